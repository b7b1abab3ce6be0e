//! Tests of the writer thread: group commit, per-request refusals inside a
//! batch, and failure of a whole batch.

use std::thread::JoinHandle;

use armory_actors::domain::{AssetTag, EmployeeId, WeaponClass};
use armory_actors::ports::{
    AuditAction, AuditEntry, Decision, OutstandingSignOut, OverdueStage, Store, StoreError,
    StoreRequest, WeaponChange,
};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{at, denied_entry, seeded, small_armory, temp_db};
use crate::store::{spawn_writer, Database};

type Reply = oneshot::Receiver<Result<i64, StoreError>>;

/// Queues a request on a raw channel, so that a test decides what one
/// batch holds: everything queued before the writer starts.
fn queue(
    requests: &mpsc::Sender<StoreRequest>,
    entry: AuditEntry,
    change: Option<WeaponChange>,
) -> Reply {
    let (reply, answer) = oneshot::channel();
    requests
        .try_send(StoreRequest::Commit {
            entry: Box::new(entry),
            change,
            reply,
        })
        .expect("the test channel has room");
    answer
}

fn answer(reply: Reply) -> Result<i64, StoreError> {
    reply
        .blocking_recv()
        .expect("the writer answers every request")
}

fn stop(requests: mpsc::Sender<StoreRequest>, writer: JoinHandle<()>) {
    drop(requests);
    writer.join().expect("the writer thread ends cleanly");
}

/// A sign-out of `tag` by `holder`, as the weapon actor commits it.
fn sign_out(tag: &str, holder: &str, when: Timestamp) -> (AuditEntry, WeaponChange) {
    let transaction = Uuid::new_v4();
    let entry = AuditEntry {
        action: AuditAction::SignedOut,
        decision: Decision::Recorded,
        reason: "signed_out".to_owned(),
        employee_id: Some(EmployeeId::from(holder)),
        asset_tag: Some(AssetTag::from(tag)),
        weapon_class: None,
        compartment: Some(1),
        reader: None,
        badge: None,
        transaction: Some(transaction),
        ..denied_entry(when)
    };
    let change = WeaponChange::SignedOut {
        asset_tag: AssetTag::from(tag),
        holder: EmployeeId::from(holder),
        transaction,
        at: when,
    };
    (entry, change)
}

/// A return of `tag` by `holder`.
fn return_of(tag: &str, holder: &str, when: Timestamp) -> (AuditEntry, WeaponChange) {
    let (mut entry, _) = sign_out(tag, holder, when);
    entry.action = AuditAction::Returned;
    entry.reason = "returned".to_owned();
    let change = WeaponChange::Returned {
        asset_tag: AssetTag::from(tag),
        holder: EmployeeId::from(holder),
        transaction: entry.transaction.unwrap_or_default(),
        at: when,
    };
    (entry, change)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_commits_land_with_a_valid_chain() {
    let (_dir, path) = temp_db();
    let (store, requests) = Store::channel(64);
    let writer = spawn_writer(seeded(&path), requests).expect("writer starts");

    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let when = at("2026-12-03T14:00:00Z") + jiff::SignedDuration::from_millis(i);
        tasks.push(tokio::spawn(async move {
            store.commit(denied_entry(when), None).await
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task runs").expect("commit succeeds"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<i64>>());

    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .expect("join task runs")
        .expect("writer ends cleanly");

    let reader = Database::open_reader(&path).expect("reader");
    assert_eq!(reader.verify_audit().expect("chain is valid"), 50);
    assert_eq!(
        reader.count_audit(Some(Decision::Denied)).expect("count"),
        50
    );
    assert_eq!(
        reader.count_audit(Some(Decision::Granted)).expect("count"),
        0
    );
}

#[test]
fn a_duplicate_in_a_batch_is_refused_alone() {
    let (_dir, path) = temp_db();
    let (requests, receiver) = mpsc::channel(16);
    let when = at("2026-12-03T14:00:00Z");

    let (first, first_change) = sign_out("LL-01001", "E40001", when);
    let event_id = first.event_id.expect("entries carry an event id");
    let (mut repeat, repeat_change) = sign_out("LL-01002", "E40001", when);
    repeat.event_id = Some(event_id);
    let replies = [
        queue(&requests, first, Some(first_change)),
        queue(&requests, repeat, Some(repeat_change)),
        queue(&requests, denied_entry(when), None),
    ];
    let writer = spawn_writer(seeded(&path), receiver).expect("writer starts");

    let [first, repeat, other] = replies.map(answer);
    assert_eq!(first, Ok(1));
    assert_eq!(repeat, Err(StoreError::Duplicate { event_id }));
    assert_eq!(other, Ok(2));

    // A redelivery after the batch is refused the same way.
    let (again, again_change) = sign_out("LL-01003", "E40002", when);
    let again = AuditEntry {
        event_id: Some(event_id),
        ..again
    };
    let refused = answer(queue(&requests, again, Some(again_change)));
    assert_eq!(refused, Err(StoreError::Duplicate { event_id }));
    stop(requests, writer);

    let reader = Database::open_reader(&path).expect("reader");
    let held = reader.weapon(&AssetTag::from("LL-01001")).expect("query");
    let held = held.expect("weapon exists");
    assert_eq!(held.holder, Some(EmployeeId::from("E40001")));
    assert_eq!(
        (held.sign_outs_since_service, held.total_sign_outs),
        (5, 18)
    );
    for untouched in ["LL-01002", "LL-01003"] {
        let tag = AssetTag::from(untouched);
        let weapon = reader.weapon(&tag).expect("query");
        assert_eq!(weapon.as_ref(), small_armory().weapons.get(&tag));
    }
    assert_eq!(reader.open_sign_outs().expect("query").len(), 1);
    assert_eq!(reader.verify_audit().expect("chain is valid"), 2);
}

#[test]
fn a_return_that_contradicts_the_store_is_a_conflict_and_changes_nothing() {
    let (_dir, path) = temp_db();
    let (requests, receiver) = mpsc::channel(16);
    let writer = spawn_writer(seeded(&path), receiver).expect("writer starts");
    let tag = AssetTag::from("LL-01001");
    let when = at("2026-12-03T14:00:00Z");

    // Not signed out at all.
    let (entry, change) = return_of("LL-01001", "E40001", when);
    let refused = answer(queue(&requests, entry, Some(change)));
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    let reader = Database::open_reader(&path).expect("reader");
    assert_eq!(reader.count_audit(None).expect("count"), 0);
    assert_eq!(
        reader.weapon(&tag).expect("query").as_ref(),
        small_armory().weapons.get(&tag)
    );

    // Signed out by one person, brought back by another.
    let (entry, change) = sign_out("LL-01001", "E40001", when);
    let sign_out_transaction = entry.transaction;
    assert_eq!(answer(queue(&requests, entry, Some(change))), Ok(1));
    let (entry, change) = return_of("LL-01001", "E40002", when);
    let refused = answer(queue(&requests, entry, Some(change)));
    match refused {
        Err(StoreError::Conflict { detail }) => {
            assert!(detail.contains("held by E40001"), "{detail}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }

    // Signed out twice.
    let (entry, change) = sign_out("LL-01001", "E40002", when);
    let refused = answer(queue(&requests, entry, Some(change)));
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    let held = reader.weapon(&tag).expect("query").expect("weapon exists");
    assert_eq!(held.holder, Some(EmployeeId::from("E40001")));
    assert_eq!(held.total_sign_outs, 18);

    // The holder brings it back: the ledger row closes.
    let back = at("2026-12-03T18:00:00Z");
    let (entry, change) = return_of("LL-01001", "E40001", back);
    let return_transaction = entry.transaction;
    assert_eq!(answer(queue(&requests, entry, Some(change))), Ok(2));
    stop(requests, writer);

    let returned = reader.weapon(&tag).expect("query").expect("weapon exists");
    assert_eq!(returned.holder, None);
    assert_eq!(returned.total_sign_outs, 18);
    assert!(reader.open_sign_outs().expect("query").is_empty());
    let closed: (String, String) = reader
        .connection()
        .query_row(
            "SELECT returned_at, return_transaction FROM sign_outs WHERE transaction_id = ?1",
            [sign_out_transaction.map(|id| id.to_string())],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the sign-out row exists");
    let expected_transaction = return_transaction
        .map(|id| id.to_string())
        .unwrap_or_default();
    assert_eq!(
        closed,
        (
            "2026-12-03T18:00:00.000000000Z".to_owned(),
            expected_transaction
        )
    );
    assert_eq!(reader.count_audit(None).expect("count"), 2);
}

#[test]
fn a_database_failure_fails_the_whole_batch() {
    let (_dir, path) = temp_db();
    drop(seeded(&path));
    let (requests, receiver) = mpsc::channel(16);
    let when = at("2026-12-03T14:00:00Z");
    let replies = [
        queue(&requests, denied_entry(when), None),
        queue(&requests, denied_entry(when), None),
    ];

    // A read-only connection makes every write fail inside SQLite.
    let read_only = Database::open_reader(&path).expect("reader");
    let writer = spawn_writer(read_only, receiver).expect("writer starts");
    for reply in replies {
        let failed = answer(reply);
        assert!(
            matches!(failed, Err(StoreError::Failed { .. })),
            "{failed:?}"
        );
    }
    stop(requests, writer);

    let reader = Database::open_reader(&path).expect("reader");
    assert_eq!(reader.count_audit(None).expect("count"), 0);
}

#[test]
fn an_unknown_weapon_is_a_conflict() {
    let (_dir, path) = temp_db();
    let (requests, receiver) = mpsc::channel(4);
    let writer = spawn_writer(seeded(&path), receiver).expect("writer starts");
    let (mut entry, change) = sign_out("XX-99999", "E40001", at("2026-12-03T14:00:00Z"));
    entry.weapon_class = Some(WeaponClass::Cew);
    let refused = answer(queue(&requests, entry, Some(change)));
    match refused {
        Err(StoreError::Conflict { detail }) => assert!(detail.contains("XX-99999"), "{detail}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    stop(requests, writer);
}

#[test]
fn an_outstanding_sign_out_carries_its_time_and_overdue_stage() {
    let (_dir, path) = temp_db();
    let (requests, receiver) = mpsc::channel(16);
    let writer = spawn_writer(seeded(&path), receiver).expect("writer starts");
    let tag = AssetTag::from("LL-01001");
    let ask = |requests: &mpsc::Sender<StoreRequest>| {
        let (reply, answer) = oneshot::channel();
        let asset_tag = tag.clone();
        requests
            .try_send(StoreRequest::OutstandingSignOut { asset_tag, reply })
            .expect("the test channel has room");
        answer
            .blocking_recv()
            .expect("the writer answers every request")
            .expect("the read succeeds")
    };
    assert_eq!(ask(&requests), None, "in its compartment");

    let signed_out_at = at("2026-12-03T14:00:00Z");
    let (entry, change) = sign_out("LL-01001", "E40001", signed_out_at);
    let transaction = entry.transaction.expect("a sign-out has a transaction");
    answer(queue(&requests, entry, Some(change))).expect("signed out");
    let expected = OutstandingSignOut {
        transaction,
        signed_out_at,
        overdue: OverdueStage::OnTime,
    };
    assert_eq!(ask(&requests), Some(expected.clone()));

    // Each overdue row of that sign-out moves the stage on.
    for (reason, stage) in [
        ("weapon_overdue", OverdueStage::Late),
        ("weapon_overdue_escalated", OverdueStage::Escalated),
    ] {
        let row = AuditEntry {
            action: AuditAction::Overdue,
            decision: Decision::Recorded,
            reason: reason.to_owned(),
            asset_tag: Some(tag.clone()),
            transaction: Some(transaction),
            ..denied_entry(at("2026-12-03T15:00:00Z"))
        };
        answer(queue(&requests, row, None)).expect("recorded");
        let outstanding = ask(&requests).expect("still out");
        assert_eq!(outstanding.overdue, stage);
        assert_eq!(outstanding.signed_out_at, signed_out_at);
    }

    let (entry, change) = return_of("LL-01001", "E40001", at("2026-12-03T17:00:00Z"));
    answer(queue(&requests, entry, Some(change))).expect("returned");
    assert_eq!(ask(&requests), None, "back in its compartment");
    stop(requests, writer);
}
