//! End to end: the store is the truth, MQTT only carries projections of it.
//!
//! While no service runs, someone leaves forged retained state on the
//! broker: every weapon of a class at a locker "signed out" to a person
//! who does not hold it. The service then starts on that broker. The
//! forgery decides nothing: a sign-out of that class is granted from the
//! store, and the retained state a dashboard reads afterwards is the
//! store's, the forgery overwritten weapon by weapon.

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use armory::broker::EmbeddedBroker;
use armory::serve::{broker_settings, load_fleet_secret, Service};
use armory_actors::domain::{LockerId, ServiceStatus};
use armory_actors::protocol::AccessRequest;
use armory_device_sim::{SimConfig, Simulator};
use harness::{Observer, TestArmory};

/// The person the forgery claims holds every weapon.
const FORGED_HOLDER: &str = "E99999";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_retained_state_decides_nothing_and_is_overwritten() {
    // The demo armory, stopped again at once: what is left is its store.
    let armory = TestArmory::start().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let locker = LockerId::from("SLM-L1");
    let weapons: Vec<_> = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class)
        .filter(|w| w.status == ServiceStatus::InService)
        .cloned()
        .collect();
    assert!(!weapons.is_empty());
    let TestArmory {
        dir,
        service,
        sim,
        observer,
        clock,
        agency,
    } = armory;
    sim.shutdown().await;
    observer.stop().await;
    service.stop().await;

    // A broker that outlives the service, and forged retained state on it.
    let config = harness::test_config(&dir.path().join("state"));
    let fleet = load_fleet_secret(&config, &clock).expect("keys load");
    let broker = EmbeddedBroker::start(&broker_settings(&config, &fleet, &clock))
        .await
        .expect("broker starts");
    let address = broker.address();
    let forger = Observer::start(address, "forger", "armory/v1/SLM/SLM-L1/state/weapon/+").await;
    let topic_of = |tag: &str| format!("armory/v1/SLM/SLM-L1/state/weapon/{tag}");
    for weapon in &weapons {
        let forged = serde_json::json!({
            "v": 1,
            "asset_tag": weapon.asset_tag,
            "weapon_class": weapon.class,
            "site": weapon.site,
            "locker": weapon.locker,
            "compartment": weapon.compartment,
            "condition": "signed_out",
            "service_status": "in_service",
            "holder": FORGED_HOLDER,
            "sign_outs_since_service": 0,
            "total_sign_outs": 0,
            "at": clock.now(),
        });
        let payload = serde_json::to_vec(&forged).expect("plain JSON");
        forger
            .publish(&topic_of(weapon.asset_tag.as_str()), payload, true)
            .await;
    }
    forger
        .wait_until("the forgeries to be retained", |seen| {
            seen.iter()
                .filter(|s| s.json()["holder"] == FORGED_HOLDER)
                .count()
                >= weapons.len()
        })
        .await;
    forger.stop().await;

    // The service starts on that broker; the lockers connect.
    let service = Service::start_on(&config, clock.clone(), broker)
        .await
        .expect("service starts");
    let watcher = Observer::start(address, "watcher", "armory/v1/SLM/SLM-L1/activity").await;
    let mut sim_config = SimConfig::new(address, service.fleet_secret().clone(), agency);
    sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
    sim_config.clock = clock.clone();
    let sim = Simulator::start(sim_config)
        .await
        .expect("simulator starts");

    // The store says the class is in the locker: the officer gets one.
    let request = AccessRequest::SignOut {
        weapon_class: class,
    };
    let reader = TestArmory::reader("R1");
    let outcome = sim
        .scan(&locker, &reader, &officer.badge, Some(&pin), request)
        .await
        .expect("answered");
    assert!(outcome.granted(), "{:?}", outcome.answer);
    watcher
        .wait_until("the sign-out", |seen| {
            seen.iter().any(|s| s.json()["kind"] == "signed_out")
        })
        .await;

    // A dashboard subscribing now reads the store's state of every one.
    let dashboard =
        Observer::start(address, "dashboard", "armory/v1/SLM/SLM-L1/state/weapon/+").await;
    dashboard
        .wait_until("the retained state of every weapon of the class", |seen| {
            weapons.iter().all(|weapon| {
                let topic = topic_of(weapon.asset_tag.as_str());
                seen.iter().any(|s| s.retain && s.topic == topic)
            })
        })
        .await;
    let retained: BTreeMap<String, serde_json::Value> = dashboard
        .all()
        .into_iter()
        .filter(|s| s.retain)
        .map(|s| (s.topic.clone(), s.json()))
        .collect();
    let mut signed_out = Vec::new();
    for weapon in &weapons {
        let state = &retained[&topic_of(weapon.asset_tag.as_str())];
        assert_ne!(state["holder"], FORGED_HOLDER, "{state}");
        if state["condition"] == "signed_out" {
            assert_eq!(state["holder"], officer.employee_id.as_str(), "{state}");
            signed_out.push(weapon.asset_tag.clone());
        } else {
            assert_eq!(state["condition"], "available", "{state}");
        }
    }
    assert_eq!(signed_out.len(), 1, "exactly the weapon issued is out");

    sim.shutdown().await;
    watcher.stop().await;
    dashboard.stop().await;
    service.stop().await;
}
