//! Crash recovery end to end: `armory serve` runs as a child process, the
//! simulated lockers play a shift against it, and in the middle of the
//! shift the service is killed with SIGKILL (no clean-up of any kind) and
//! started again on the same port and state folder. The lockers and an
//! observer ride the outage out by reconnecting, and the shift finishes.
//!
//! Afterwards the store must show: every grant closed (completed, or closed
//! out as `interrupted` where the crash cut it), no weapon issued to two
//! people at once, an intact audit chain, and granted rows and unlock
//! commands matching one for one, except a grant whose unlock the kill cut
//! off before it left, which must be among the interrupted ones.

#[path = "support/harness.rs"]
mod harness;

#[path = "crash_recovery/ledger.rs"]
mod ledger;
#[path = "crash_recovery/process.rs"]
mod process;
#[path = "crash_recovery/watch.rs"]
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use armory_actors::import::AgencyData;
use armory_device_sim::{run_shift, ShiftPlan, SimConfig, Simulator};
use ledger::Facts;
use process::ServiceProcess;
use watch::Watch;

/// How long a start of the service may take (the first one seeds the
/// store and hashes every PIN, cheaply here).
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Sign-outs in the shift, each followed by its return.
const SIGN_OUTS: usize = 40;

/// Officers at lockers at once.
const OFFICERS: usize = 6;

/// Sign-outs seen on the activity stream before the service is killed.
const KILL_AFTER: usize = 10;

/// Waits until the store has no grant left open, or fails after `patience`.
async fn wait_for_closed_grants(database: &Path, patience: Duration) -> Facts {
    let deadline = tokio::time::Instant::now() + patience;
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticks.tick().await;
        let facts = Facts::read(database);
        if facts.open_grants.is_empty() {
            return facts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "grants still open after {patience:?}: {:?}",
            facts.open_grants
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_killed_mid_shift_comes_back_and_the_shift_finishes_cleanly() {
    let wall = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    // Not created here: the service makes it, owner-only.
    let state = dir.path().join("state");
    // A port picked now: the service must come back on the same one after
    // the kill. A short unlock window closes out the opening it cut off.
    let port = harness::free_port();
    let settings = harness::TestSettings {
        broker_listen: format!("127.0.0.1:{port}"),
        unlock_window_seconds: 5,
        ..harness::TestSettings::default()
    };
    let config = harness::write_config_file(dir.path(), &settings);
    let broker = SocketAddr::from(([127, 0, 0, 1], port));
    let database = state.join("armory.sqlite3");

    let first = ServiceProcess::start(&config, "first start", START_PATIENCE).await;
    let watch = Watch::start(broker, Duration::from_secs(10)).await;

    // The lockers, with the fleet secret the service made on first start.
    let secret = armory::keyfile::load(&state.join(armory::keyfile::FLEET_KEY))
        .expect("the service wrote its fleet key");
    let agency = AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data imports");
    let lockers = agency.armory.lockers.len();
    let mut sim_config = SimConfig::new(broker, secret, agency);
    sim_config.handling_delay = (Duration::from_millis(150), Duration::from_millis(350));
    sim_config.outcome_timeout = Duration::from_secs(5);
    let sim = Simulator::start(sim_config)
        .await
        .expect("every locker connects");

    let plan = ShiftPlan {
        sign_outs: SIGN_OUTS,
        officers_at_once: OFFICERS,
        seed: 20261203,
    };
    let shift = tokio::spawn({
        let sim = sim.clone();
        async move { run_shift(&sim, plan).await }
    });

    // Mid-shift, the service dies without warning and comes back.
    watch
        .wait_until("sign-outs before the kill", START_PATIENCE, |seen| {
            seen.signed_out.len() >= KILL_AFTER
        })
        .await;
    let first_log = first.kill();
    let killed_at = Instant::now();
    let at_kill = watch.seen();
    let second = ServiceProcess::start(&config, "restart", START_PATIENCE).await;
    let restarted_in = killed_at.elapsed();

    // The shift rides it out and finishes.
    let report = tokio::time::timeout(Duration::from_secs(40), shift)
        .await
        .expect("the shift finishes within 40 s of the restart")
        .expect("the shift task does not panic")
        .expect("the shift plays to its end");
    let facts = wait_for_closed_grants(&database, Duration::from_secs(10)).await;
    let hardware = sim.stats().await;
    sim.shutdown().await;
    let seen = watch.seen();
    watch.stop().await;
    let second_log = second.interrupt(Duration::from_secs(10)).await;
    let chain = ledger::verify_audit(&database);
    let resumed = second_log
        .lines
        .iter()
        .filter(|line| line.contains("resuming an opening"))
        .count();
    eprintln!(
        "crash recovery: restart took {restarted_in:?}, wall time {:?}\n{report}\n\
         sign-outs seen at the kill {}, after {}; openings resumed {resumed}; closings {:?}; \
         interrupted {}; lockers' connections {} errors {}; observer connections {}",
        wall.elapsed(),
        at_kill.signed_out.len(),
        seen.signed_out.len(),
        facts.closings,
        facts.interrupted.len(),
        hardware.connections,
        hardware.connection_errors,
        seen.connections,
    );
    let logs = || {
        format!(
            "first run:\n{}\nsecond run:\n{}",
            first_log.lines.join("\n"),
            second_log.lines.join("\n")
        )
    };

    // Everyone reconnected, and the shift went on after the restart.
    assert!(
        hardware.connections >= 2 * lockers as u64,
        "not every locker reconnected: {hardware:?}"
    );
    assert!(seen.connections >= 2, "the observer did not reconnect");
    assert!(
        seen.signed_out.len() > at_kill.signed_out.len(),
        "no sign-out completed after the restart\n{}",
        logs()
    );
    assert!(report.granted > 0 && report.sign_outs_completed >= KILL_AFTER);

    // The shift finished cleanly: what went out came back, on the doors
    // and in the ledger. (A kill in the microseconds between an unlock and
    // its reader's outcome would leave an officer who never saw the grant
    // holding a weapon the ledger rightly shows as out; that window is too
    // narrow to hit by chance here.)
    assert_eq!(
        report.returns_completed,
        report.sign_outs_completed,
        "officers left holding weapons\n{}",
        logs()
    );
    assert!(
        facts.unreturned.is_empty(),
        "sign-outs never returned: {:?}\n{}",
        facts.unreturned,
        logs()
    );

    // Every grant was closed, and no weapon was held twice.
    assert!(facts.open_grants.is_empty());
    assert!(
        facts.overlaps.is_empty(),
        "weapons issued twice: {:#?}\n{}",
        facts.overlaps,
        logs()
    );
    assert!(chain > 0, "the audit trail is empty");

    // Granted rows and unlock commands match one for one. An unlock the
    // kill cut off (granted, durable, never sent) cannot be seen; it must
    // be a grant the restarted service closed out as interrupted.
    let phantom: Vec<_> = seen.unlocks.difference(&facts.granted).collect();
    assert!(
        phantom.is_empty(),
        "unlocks with no granted row: {phantom:?}"
    );
    let unsent: Vec<_> = facts.granted.difference(&seen.unlocks).collect();
    if !unsent.is_empty() {
        eprintln!(
            "crash recovery: {} granted row(s) had no unlock on the bus: the kill came between \
             the grant and its unlock: {unsent:?}",
            unsent.len()
        );
    }
    let unexplained: Vec<_> = unsent
        .iter()
        .filter(|transaction| !facts.interrupted.contains(**transaction))
        .collect();
    assert!(
        unexplained.is_empty(),
        "granted rows with no unlock seen and not interrupted: {unexplained:?}\n{}",
        logs()
    );
    assert_eq!(
        seen.unlocks.len() + unsent.len(),
        facts.granted.len(),
        "granted {} rows, saw {} unlocks, {} cut off by the kill",
        facts.granted.len(),
        seen.unlocks.len(),
        unsent.len()
    );
    assert!(
        wall.elapsed() < Duration::from_secs(60),
        "the test took {:?}",
        wall.elapsed()
    );
}
