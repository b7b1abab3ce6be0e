//! A whole shift on the demo agency, against a real broker and a service
//! stand-in that applies the access rules: every sign-out is returned (or
//! was rightly refused for want of a weapon), the deliberate denials are
//! denied for their own reasons, nothing times out.

#[path = "support/auto_service.rs"]
mod auto_service;
#[path = "support/broker.rs"]
mod broker;

use std::path::Path;
use std::time::Duration;

use armory_actors::import::AgencyData;
use armory_actors::protocol::FleetSecret;
use armory_device_sim::{run_shift_at, ShiftPlan, SimConfig, Simulator};
use jiff::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_shift_signs_out_and_returns_every_weapon() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo");
    let agency = AgencyData::load_dir(&dir)
        .unwrap_or_else(|errors| panic!("{} must import: {errors}", dir.display()));
    let now: Timestamp = "2026-12-03T14:00:00Z"
        .parse()
        .unwrap_or_else(|error| panic!("a valid instant: {error}"));
    let secret = FleetSecret::generate();

    let broker = broker::start_broker().await;
    auto_service::start(broker, secret.clone(), agency.clone(), now).await;
    let mut config = SimConfig::new(broker, secret, agency);
    config.handling_delay = (Duration::ZERO, Duration::ZERO);
    let sim = Simulator::start(config)
        .await
        .unwrap_or_else(|error| panic!("the simulator starts: {error}"));

    let plan = ShiftPlan {
        sign_outs: 40,
        officers_at_once: 8,
        seed: 11,
    };
    let report = run_shift_at(&sim, plan, now)
        .await
        .unwrap_or_else(|error| panic!("the shift runs: {error}"));
    sim.shutdown().await;
    println!("{report}");

    // Two officers may want the last weapon of a class at once; the
    // second is rightly turned away.
    let contended = report.denied.get("no_weapon_available").copied();
    let contended = contended.unwrap_or(0);
    assert!(contended <= 4, "{report}");
    assert_eq!(report.sign_outs_completed + contended, 40, "{report}");
    assert_eq!(
        report.returns_completed, report.sign_outs_completed,
        "{report}"
    );
    assert_eq!(report.granted, 2 * report.sign_outs_completed, "{report}");
    assert_eq!(report.deliberate_denials, 4, "{report}");
    assert_eq!(report.deliberate_granted, 0, "{report}");
    assert_eq!(report.timeouts(), 0, "{report}");
    assert_eq!(report.skipped, 0, "{report}");
    assert_eq!(report.attempts, 84 - contended, "{report}");
    for reason in ["wrong_pin", "person_suspended", "unknown_badge"] {
        let seen = report.denied.get(reason).copied().unwrap_or(0);
        assert!(seen >= 1, "{reason}: {report}");
    }
    assert_eq!(report.to_outcome.count, report.attempts);
    assert_eq!(report.to_door_closed.count, report.granted);
    assert_eq!(report.hardware.refused_total(), 0, "{report}");
}
