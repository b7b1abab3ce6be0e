//! Tests of the audit trail: local times, ordering, queries, and the hash
//! chain catching tampering.

use std::path::Path;

use armory_actors::domain::{AssetTag, EmployeeId, LockerId, SiteId};
use armory_actors::ports::{AuditEntry, Decision, StoreRequest};
use tokio::sync::{mpsc, oneshot};

use super::{at, denied_entry, seeded, temp_db};
use crate::store::{spawn_writer, AuditFilter, Database, DbError, GENESIS_HASH};

/// Commits `entries` one after the other through a writer on `db`, and
/// returns their sequence numbers.
fn commit_all(db: Database, entries: &[AuditEntry]) -> Vec<i64> {
    let (requests, receiver) = mpsc::channel(4);
    let writer = spawn_writer(db, receiver).expect("writer starts");
    let mut seqs = Vec::new();
    for entry in entries {
        let (reply, answer) = oneshot::channel();
        let request = StoreRequest::Commit {
            entry: Box::new(entry.clone()),
            change: None,
            reply,
        };
        requests.blocking_send(request).expect("writer is running");
        let seq = answer.blocking_recv().expect("writer answers");
        seqs.push(seq.expect("commit succeeds"));
    }
    drop(requests);
    writer.join().expect("writer ends cleanly");
    seqs
}

/// A seeded database with `count` denied rows, one second apart.
fn trail_of(path: &Path, count: i64) -> Vec<AuditEntry> {
    let start = at("2026-12-03T14:00:00Z");
    let entries: Vec<AuditEntry> = (0..count)
        .map(|i| {
            let mut entry = denied_entry(start + jiff::SignedDuration::from_secs(i));
            entry.reason = format!("marker-{i:04}");
            entry
        })
        .collect();
    commit_all(seeded(path), &entries);
    entries
}

#[test]
fn local_time_follows_the_site_across_the_end_of_daylight_time() {
    let (_dir, path) = temp_db();

    // Written out of time order, so that time order is not trail order.
    let pst = denied_entry(at("2026-11-01T09:30:00Z"));
    let between = denied_entry(at("2026-11-01T08:30:00.5Z"));
    let pdt = denied_entry(at("2026-11-01T08:30:00Z"));
    let seqs = commit_all(seeded(&path), &[pst.clone(), between.clone(), pdt.clone()]);
    assert_eq!(seqs, [1, 2, 3]);

    let reader = Database::open_reader(&path).expect("reader");
    let rows = reader.audit_rows(&AuditFilter::default()).expect("query");
    let seen: Vec<(i64, &str)> = rows
        .iter()
        .map(|row| (row.seq, row.local_time.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (3, "2026-11-01T01:30:00-07:00"),
            (2, "2026-11-01T01:30:00-07:00"),
            (1, "2026-11-01T01:30:00-08:00"),
        ]
    );
    assert_eq!(rows[0].entry, pdt);
    assert_eq!(rows[1].entry, between);
    assert_eq!(rows[2].entry, pst);

    // The stored text sorts as time does, sub-seconds included.
    let mut statement = reader
        .connection()
        .prepare("SELECT at_utc FROM audit ORDER BY at_utc")
        .expect("prepare");
    let stored: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        stored,
        [
            "2026-11-01T08:30:00.000000000Z",
            "2026-11-01T08:30:00.500000000Z",
            "2026-11-01T09:30:00.000000000Z",
        ]
    );
}

#[test]
fn filters_select_by_person_weapon_place_outcome_and_time() {
    let (_dir, path) = temp_db();
    let start = at("2026-12-03T14:00:00Z");
    let mut entries: Vec<AuditEntry> = (0..4)
        .map(|i| denied_entry(start + jiff::SignedDuration::from_mins(i)))
        .collect();
    entries[1].employee_id = Some(EmployeeId::from("E40002"));
    entries[2].asset_tag = Some(AssetTag::from("LL-01003"));
    entries[2].decision = Decision::Granted;
    entries[3].locker = LockerId::from("SLM-L2");
    commit_all(seeded(&path), &entries);
    let reader = Database::open_reader(&path).expect("reader");
    let seqs = |filter: AuditFilter| -> Vec<i64> {
        let rows = reader.audit_rows(&filter).expect("query");
        rows.iter().map(|row| row.seq).collect()
    };

    let by_person = AuditFilter {
        employee_id: Some(EmployeeId::from("E40002")),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(by_person), [2]);
    let by_weapon = AuditFilter {
        asset_tag: Some(AssetTag::from("LL-01003")),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(by_weapon), [3]);
    let by_locker = AuditFilter {
        locker: Some(LockerId::from("SLM-L1")),
        decision: Some(Decision::Denied),
        site: Some(SiteId::from("SLM")),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(by_locker), [1, 2]);
    let by_time = AuditFilter {
        since: Some(start + jiff::SignedDuration::from_mins(1)),
        until: Some(start + jiff::SignedDuration::from_mins(3)),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(by_time), [2, 3]);
    assert_eq!(
        reader.count_audit(Some(Decision::Granted)).expect("count"),
        1
    );
    assert_eq!(reader.count_audit(None).expect("count"), 4);
}

#[test]
fn the_chain_starts_at_genesis_and_links_every_row() {
    let (_dir, path) = temp_db();
    trail_of(&path, 3);
    let reader = Database::open_reader(&path).expect("reader");
    let rows = reader.audit_rows(&AuditFilter::default()).expect("query");

    assert_eq!(rows[0].prev_hash, GENESIS_HASH);
    assert_eq!(rows[1].prev_hash, rows[0].row_hash);
    assert_eq!(rows[2].prev_hash, rows[1].row_hash);
    assert_eq!(reader.verify_audit().expect("valid"), 3);
}

#[test]
fn the_trail_refuses_updates_and_deletes() {
    let (_dir, path) = temp_db();
    trail_of(&path, 2);
    let db = Database::open(&path).expect("open");

    let update = db
        .connection()
        .execute("UPDATE audit SET reason = 'x' WHERE seq = 1", []);
    let delete = db
        .connection()
        .execute("DELETE FROM audit WHERE seq = 1", []);
    assert!(update.is_err() && delete.is_err(), "{update:?} {delete:?}");
    assert_eq!(db.verify_audit().expect("valid"), 2);
}

#[test]
fn verify_names_a_row_changed_through_sql() {
    let (_dir, path) = temp_db();
    trail_of(&path, 5);
    let db = Database::open(&path).expect("open");

    // Someone with the file drops the guard and edits row 3.
    db.connection()
        .execute_batch(
            "DROP TRIGGER audit_no_update;
             UPDATE audit SET employee_id = 'E40002' WHERE seq = 3;",
        )
        .expect("tamper");
    match db.verify_audit() {
        Err(DbError::AuditBreak { seq, detail }) => {
            assert_eq!(seq, 3);
            assert!(detail.contains("content"), "{detail}");
        }
        other => panic!("expected AuditBreak, got {other:?}"),
    }
}

#[test]
fn verify_names_the_row_after_a_deleted_one() {
    let (_dir, path) = temp_db();
    trail_of(&path, 5);
    let db = Database::open(&path).expect("open");

    db.connection()
        .execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;")
        .expect("tamper");
    match db.verify_audit() {
        Err(DbError::AuditBreak { seq, detail }) => {
            assert_eq!(seq, 3);
            assert!(detail.contains("prev_hash"), "{detail}");
        }
        other => panic!("expected AuditBreak, got {other:?}"),
    }
}

#[test]
fn verify_names_a_row_changed_in_the_file_bytes() {
    let (_dir, path) = temp_db();
    trail_of(&path, 5);

    // Fold the WAL into the main file, so the row's bytes are there.
    let db = Database::open(&path).expect("open");
    db.connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(db);

    let mut bytes = std::fs::read(&path).expect("read the file");
    let marker = b"marker-0003";
    let position = bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("the reason text is stored as is");
    bytes[position + marker.len() - 1] = b'7';
    std::fs::write(&path, bytes).expect("write the file");

    let reader = Database::open_reader(&path).expect("reader");
    match reader.verify_audit() {
        Err(DbError::AuditBreak { seq, .. }) => assert_eq!(seq, 4),
        other => panic!("expected AuditBreak, got {other:?}"),
    }
}
