//! The first two invariants under the paused clock: fail secure (a store
//! that cannot write denies, and nothing opens) and write ahead (the unlock
//! leaves only after the grant is durable).

#[path = "support/bench.rs"]
mod bench;

use armory_actors::ports::{AuditAction, Decision};
use bench::{sign_out, Bench, StoreMode, OFFICER_BADGE};

#[tokio::test(start_paused = true)]
async fn a_store_that_cannot_write_denies_and_opens_nothing() {
    let mut bench = Bench::start().await;
    *bench.store_mode.lock().expect("mode lock") = StoreMode::Failing;

    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], false);
    assert_eq!(outcome["reason"], "store_unavailable");
    assert_eq!(bench.unlocks(), 0);

    // The weapon it would have had is free again once the store is back.
    *bench.store_mode.lock().expect("mode lock") = StoreMode::Normal;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], true);
    assert_eq!(outcome["compartment"], 1);
}

#[tokio::test(start_paused = true)]
async fn the_unlock_waits_for_the_grant_to_be_durable() {
    let mut bench = Bench::start().await;
    *bench.store_mode.lock().expect("mode lock") = StoreMode::Hold;

    // The scan is decided but its row is not yet written: nothing opens.
    let body = armory_actors::protocol::DeviceEvent::Scan {
        badge_uid: OFFICER_BADGE.into(),
        pin_sealed: None,
        fingerprint_match: Some(true),
        request: sign_out(),
    };
    bench.send(bench::reader_topic("R1"), body).await;
    assert_eq!(bench.unlocks(), 0);
    assert_eq!(bench.decided(Decision::Granted), 0);

    // Durable now: the unlock follows.
    *bench.store_mode.lock().expect("mode lock") = StoreMode::Normal;
    bench.store_release.notify_one();
    bench.settle().await;
    assert_eq!(bench.decided(Decision::Granted), 1);
    assert_eq!(bench.unlocks(), 1);
    assert!(bench
        .audited(AuditAction::SignOutRequest)
        .contains(&"granted".to_owned()));
}
