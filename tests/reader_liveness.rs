//! End to end: the simulator's controllers beat for their readers over
//! MQTT, and the service publishes each reader as `unknown` until its first
//! heartbeat and `online` after, and counts them on the `armory_devices`
//! gauge. (Its own test binary: metrics are process-wide.)

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;

use harness::{Seen, TestArmory};

/// The latest retained state of each locker, by topic.
fn latest_locker_states(seen: &[Seen]) -> BTreeMap<String, serde_json::Value> {
    seen.iter()
        .filter(|s| s.topic.ends_with("/state") && s.topic.split('/').count() == 5)
        .map(|s| (s.topic.clone(), s.json()))
        .collect()
}

/// Whether every reader of every locker has the word `word`.
fn every_reader_is(seen: &[Seen], lockers: usize, word: &str) -> bool {
    let states = latest_locker_states(seen);
    states.len() == lockers
        && states.values().all(|state| {
            state["readers"]
                .as_object()
                .is_some_and(|readers| readers.values().all(|r| r == word))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_unknown_until_their_controller_beats_for_them() {
    let armory = TestArmory::start().await;
    let layout = &armory.agency.armory.lockers;
    let lockers = layout.len();
    let readers: usize = layout.values().map(|locker| locker.readers.len()).sum();

    // When each controller was first heard, its readers were not yet.
    let first_online: Vec<serde_json::Value> = armory
        .observer
        .matching(|s| s.topic.ends_with("/state") && s.json()["controller"] == "online")
        .iter()
        .map(Seen::json)
        .collect();
    let announced = &first_online[0];
    let words = announced["readers"].as_object().expect("a reader map");
    assert!(!words.is_empty(), "{announced}");
    assert!(words.values().all(|w| w == "unknown"), "{announced}");

    // The controllers beat every 10 s, for themselves and their readers.
    armory
        .observer
        .wait_until("a reader heard", |seen| {
            latest_locker_states(seen).values().any(|state| {
                let readers = state["readers"].as_object();
                readers.is_some_and(|r| r.values().any(|w| w == "online"))
            })
        })
        .await;
    armory
        .observer
        .wait_until("every reader online", |seen| {
            every_reader_is(seen, lockers, "online")
        })
        .await;

    let metrics = armory.service.render_metrics();
    let online = format!("armory_devices{{kind=\"reader\",state=\"online\"}} {readers}");
    assert!(metrics.contains(&online), "{online} not in\n{metrics}");
    assert!(metrics.contains("armory_devices{kind=\"reader\",state=\"unknown\"} 0"));
    assert!(armory.alerts("reader_offline").is_empty());
    armory.stop().await;
}
