//! Property test against a running armory: hostile device traffic, random
//! topics and payloads, first handed straight to the router
//! ([`Directory::route`]) and then published over MQTT by a logged-in
//! client. Every message the service receives is refused and counted
//! exactly once in `armory_device_events_rejected_total`; messages on
//! topics outside the device-event namespace never reach the service; no
//! actor stops, nothing is audited, and a real officer is served after.
//!
//! The counters are process-wide, so this file holds one test.

#[path = "support/harness.rs"]
mod harness;
#[path = "support/hostile.rs"]
mod hostile;

use std::time::Duration;

use armory_actors::domain::LockerId;
use armory_actors::protocol::AccessRequest;
use harness::TestArmory;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Device-event topics, real and unreal: they reach the router.
fn event_topic() -> impl Strategy<Value = String> {
    prop_oneof![
        concat!(
            "armory/v1/(SLM|PDX|XXX)/(SLM-L1|SLM-L2|PDX-L1|L9)/event/",
            "(controller|reader/R[0-9]|compartment/[0-9]{1,6})"
        ),
        "armory/v1/[^/+#\u{0}]{1,30}/[^/+#\u{0}]{1,30}/event/[^+#\u{0}]{1,30}",
        "armory/v1/SLM/SLM-L1/event/[^+#\u{0}]{1,30}",
    ]
}

/// Topics the service does not subscribe to: they must be ignored.
fn other_topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "armory/v2/SLM/SLM-L1/event/controller",
        "armory/v1/SLM/SLM-L1/(command|state|activity)/[a-z0-9/]{1,20}",
        "(other|armory)/[a-zA-Z0-9]{1,10}",
    ]
}

/// The sum of a counter over all its labels.
fn total(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

fn rejected(armory: &TestArmory) -> u64 {
    total(
        &armory.service.render_metrics(),
        "armory_device_events_rejected_total",
    )
}

/// Waits (10 s at most) for the rejection counter to reach `target`,
/// polling: the counter has no change notification.
async fn rejected_reaches(armory: &TestArmory, target: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = rejected(armory);
        if now >= target || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn hostile_traffic_is_refused_counted_and_harmless() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let armory = runtime.block_on(TestArmory::start());
    let lockers = armory.service.directory().len();
    let config = Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    };

    // Straight to the router: what it routes, the locker refuses and
    // counts; what it refuses, its caller counts (the next part).
    let mut runner = TestRunner::new(config.clone());
    let inputs = prop::collection::vec(
        (prop_oneof![event_topic(), ".{0,80}"], hostile::payload()),
        1..8,
    );
    runner
        .run(&inputs, |batch| {
            runtime.block_on(async {
                let before = rejected(&armory);
                let directory = armory.service.directory();
                let routed = batch
                    .into_iter()
                    .filter(|(topic, payload)| directory.route(topic, payload.clone()).is_ok())
                    .count() as u64;
                let after = rejected_reaches(&armory, before + routed).await;
                prop_assert_eq!(after - before, routed);
                prop_assert_eq!(directory.len(), lockers);
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("routing: {failure}"));

    // Over MQTT from a logged-in client: every message on a device-event
    // topic is counted once, wherever it is refused; others never arrive.
    let mut runner = TestRunner::new(config);
    let inputs = prop::collection::vec(
        (
            prop_oneof![3 => event_topic().prop_map(|t| (t, true)),
                        1 => other_topic().prop_map(|t| (t, false))],
            hostile::payload(),
        ),
        1..6,
    );
    runner
        .run(&inputs, |batch| {
            runtime.block_on(async {
                let before = rejected(&armory);
                let mut expected = 0;
                for ((topic, reaches_service), payload) in batch {
                    expected += u64::from(reaches_service);
                    armory.observer.publish(&topic, payload, false).await;
                }
                let after = rejected_reaches(&armory, before + expected).await;
                prop_assert_eq!(after - before, expected);
                prop_assert_eq!(armory.service.directory().len(), lockers);
                Ok(())
            })
        })
        .unwrap_or_else(|failure| panic!("over MQTT: {failure}"));

    runtime.block_on(async {
        let metrics = armory.service.render_metrics();
        assert_eq!(
            total(&metrics, "armory_actor_failures_total"),
            0,
            "{metrics}"
        );
        assert_eq!(total(&metrics, "armory_device_events_duplicate_total"), 0);
        assert!(armory.all_audit().is_empty(), "hostile traffic was audited");

        let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
        let outcome = armory
            .sim
            .scan(
                &LockerId::from("SLM-L1"),
                &TestArmory::reader("R1"),
                &officer.badge,
                Some(&pin),
                AccessRequest::SignOut {
                    weapon_class: class,
                },
            )
            .await
            .expect("answered");
        assert!(outcome.granted(), "{:?}", outcome.answer);
        armory.stop().await;
    });
}
