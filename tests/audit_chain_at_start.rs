//! The audit trail's hash chain is checked at every start. On an intact
//! trail the gauge `armory_audit_chain_intact` is 1 and nothing is raised.
//! After one byte of a row is changed in the SQLite file, the service
//! still starts and serves, but sets the gauge to 0, raises the critical
//! alert `audit_chain_broken` on `armory/v1/service/service/alert` naming
//! the row, and records the finding in the trail itself.
//!
//! One test in its own binary: the metrics recorder is global to the
//! process, and the gauge must not be set by a service of another test.

#[path = "support/harness.rs"]
mod harness;

use armory::serve::chain_check::ChainCheck;
use armory::serve::{broker_settings, load_fleet_secret, Service};
use armory::store::{AuditFilter, Database};
use armory_actors::clock::Clock;
use armory_actors::ports::AuditAction;
use harness::Observer;
use jiff::Timestamp;

/// The reason of the row the service writes at its first start; it is
/// stored once, so its bytes can be found in the file.
const TAMPER_MARK: &str = "configuration_loaded";

fn gauge(metrics: &str) -> Option<&str> {
    metrics
        .lines()
        .find(|line| line.starts_with("armory_audit_chain_intact "))
        .and_then(|line| line.split_whitespace().nth(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_chain_is_reported_at_start_and_the_service_serves_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now: Timestamp = harness::DATA_NOW.parse().expect("valid instant");
    let clock = Clock::manual(now);
    let config = harness::test_config(&dir.path().join("state"));

    // First start on an empty store: seeded, its configuration recorded.
    let service = Service::start(&config, clock.clone())
        .await
        .expect("service starts");
    assert!(matches!(service.audit_chain(), ChainCheck::Intact { .. }));
    assert_eq!(gauge(&service.render_metrics()), Some("1"));
    let database_path = service.database_path().to_owned();
    service.stop().await;

    let rows = Database::open_reader(&database_path)
        .and_then(|db| db.audit_rows(&AuditFilter::default()))
        .expect("the trail reads");
    let marked = rows
        .iter()
        .find(|row| row.entry.reason == TAMPER_MARK)
        .expect("the configuration row")
        .seq;

    // Fold the WAL into the main file, then change the row's last byte.
    let connection = rusqlite::Connection::open(&database_path).expect("open");
    connection
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(connection);
    let mut bytes = std::fs::read(&database_path).expect("read the file");
    let mark = TAMPER_MARK.as_bytes();
    let found: Vec<usize> = bytes
        .windows(mark.len())
        .enumerate()
        .filter(|(_, window)| *window == mark)
        .map(|(position, _)| position)
        .collect();
    assert_eq!(found.len(), 1, "the reason is stored once, as is");
    bytes[found[0] + mark.len() - 1] = b'e';
    std::fs::write(&database_path, bytes).expect("write the file");

    // Second start, watched from its broker before the service connects.
    let fleet = load_fleet_secret(&config, &clock).expect("keys load");
    let broker = armory::broker::EmbeddedBroker::start(&broker_settings(&config, &fleet, &clock))
        .await
        .expect("broker starts");
    let watcher = Observer::start(
        broker.address(),
        "watcher",
        "armory/v1/service/service/alert",
    )
    .await;
    let service = Service::start_on(&config, clock.clone(), broker)
        .await
        .expect("a broken trail does not stop the service");

    assert_eq!(
        service.audit_chain(),
        &ChainCheck::Broken {
            seq: marked,
            detail: "row_hash does not match the row's content".to_owned(),
        }
    );
    assert_eq!(gauge(&service.render_metrics()), Some("0"));
    watcher
        .wait_until("the audit_chain_broken alert", |seen| {
            seen.iter()
                .any(|s| s.json()["kind"] == "audit_chain_broken")
        })
        .await;
    let alert = watcher.all().remove(0).json();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["site"], "service");
    let message = alert["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("row {marked}")), "{message}");

    // The finding is in the trail, and the service still serves it.
    let recorded = Database::open_reader(&database_path)
        .and_then(|db| db.audit_rows(&AuditFilter::default()))
        .expect("the trail reads");
    let finding = recorded
        .iter()
        .find(|row| row.entry.action == AuditAction::Anomaly)
        .expect("the finding is recorded");
    assert_eq!(finding.entry.site.as_str(), "service");
    assert!(
        finding
            .entry
            .reason
            .starts_with(&format!("audit_chain_broken: row {marked}:")),
        "{}",
        finding.entry.reason
    );
    assert!(!service.directory().is_empty(), "lockers run");

    watcher.stop().await;
    service.stop().await;
}
