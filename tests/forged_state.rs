//! End to end: state that another logged-in client publishes on the
//! service's topics while it runs is put right at once. A dashboard login
//! forges a weapon signed out and the service offline, both retained; a
//! dashboard that subscribes afterwards reads the store's state of both,
//! and the corrections are counted.

#[path = "support/harness.rs"]
mod harness;

use harness::{Observer, TestArmory};

const WEAPON_STATE: &str = "armory/v1/SLM/SLM-L1/state/weapon/";
const SERVICE_STATE: &str = "armory/v1/service/state";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_state_is_overwritten_with_the_stores() {
    let armory = TestArmory::start().await;
    let broker = armory.service.broker_address();

    // A weapon in SLM-L1 as the service published it.
    let genuine = armory
        .observer
        .matching(|s| s.topic.starts_with(WEAPON_STATE) && s.json()["condition"] == "available")
        .into_iter()
        .next()
        .expect("an available weapon in SLM-L1");
    let weapon_topic = genuine.topic.clone();

    // The forgeries, retained, from a dashboard login.
    let mut forged_weapon = genuine.json();
    forged_weapon["condition"] = "signed_out".into();
    forged_weapon["holder"] = "E99999".into();
    let forged_service = serde_json::json!({"v": 1, "status": "offline", "at": armory.clock.now()});
    let forger = Observer::start(broker, "forger", "armory/v1/service/#").await;
    let bytes = |value: &serde_json::Value| serde_json::to_vec(value).expect("plain JSON");
    forger
        .publish(&weapon_topic, bytes(&forged_weapon), true)
        .await;
    forger
        .publish(SERVICE_STATE, bytes(&forged_service), true)
        .await;

    // The service answers each with its own, retained.
    armory
        .observer
        .wait_until("both corrections", |seen| {
            let last = |topic: &str| {
                seen.iter()
                    .rev()
                    .find(|s| s.topic == topic)
                    .map(|s| s.json())
            };
            last(&weapon_topic).is_some_and(|state| state["condition"] == "available")
                && last(SERVICE_STATE).is_some_and(|state| state["status"] == "online")
                && seen.iter().any(|s| s.json()["holder"] == "E99999")
        })
        .await;
    forger.stop().await;

    // A dashboard subscribing now reads the store's state, not the forgery.
    let late = Observer::start(broker, "late-dashboard", &weapon_topic).await;
    late.wait_until("the retained weapon state", |seen| {
        seen.iter().any(|s| s.retain)
    })
    .await;
    let retained = late.all().into_iter().find(|s| s.retain).expect("retained");
    assert_eq!(retained.json()["condition"], "available");
    assert_ne!(retained.json()["holder"], "E99999");
    late.stop().await;

    let late = Observer::start(broker, "late-service-watch", SERVICE_STATE).await;
    late.wait_until("the retained service state", |seen| {
        seen.iter().any(|s| s.retain)
    })
    .await;
    let retained = late.all().into_iter().find(|s| s.retain).expect("retained");
    assert_eq!(retained.json()["status"], "online");
    late.stop().await;

    let metrics = armory.service.render_metrics();
    let corrections: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("armory_state_corrections_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(corrections >= 2.0, "{metrics}");
    armory.stop().await;
}
