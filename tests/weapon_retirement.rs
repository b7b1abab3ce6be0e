//! End to end: an armorer opens a weapon's compartment for service and
//! retires it. The retirement is audited with the armorer's name, stored
//! (status retired, counters reset), published as the weapon's retained
//! state (handed to a dashboard that subscribes later), and the weapon,
//! though now the least used of its class, is never issued again.

#[path = "support/harness.rs"]
mod harness;

use armory::store::AuditFilter;
use armory_actors::domain::{LockerId, ReaderId, ServiceStatus, WeaponClass};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent, Topic};
use harness::TestArmory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_weapon_is_audited_published_and_never_issued_again() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let r1 = ReaderId::from("R1");
    let class = WeaponClass::Pepperball;

    // The launcher a sign-out would get next: the least used in service.
    let weapon = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class)
        .filter(|w| w.status == ServiceStatus::InService)
        .min_by_key(|w| (w.sign_outs_since_service, w.asset_tag.clone()))
        .cloned()
        .expect("SLM-L1 has pepperball launchers");
    let asset = weapon.asset_tag.clone();

    // The armorer opens its compartment and records the retirement.
    let (armorer, armorer_pin) = armory.armorer();
    let opened = armory
        .sim
        .scan(
            &locker,
            &r1,
            &armorer.badge,
            Some(&armorer_pin),
            AccessRequest::Service {
                compartment: weapon.compartment,
            },
        )
        .await
        .expect("answered");
    assert!(opened.granted(), "{:?}", opened.answer);
    let record = DeviceEvent::ServiceRecord {
        badge_uid: armorer.badge.reveal().to_owned(),
        asset_tag: asset.clone(),
        work: vec!["inspection".into()],
        function_test_passed: false,
        outcome: "retire".into(),
        notes: Some("barrel cracked".into()),
    };
    let panel = Topic::ReaderEvent {
        site: "SLM".into(),
        locker: locker.clone(),
        reader: r1.clone(),
    };
    armory.send_event("SLM-L1", &panel, record).await;

    // Published as retired, retained, with its counters reset.
    let state_topic = format!("/state/weapon/{asset}");
    armory
        .observer
        .wait_until("the weapon published as retired", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with(&state_topic) && s.json()["service_status"] == "retired")
        })
        .await;
    let state = armory
        .observer
        .matching(|s| s.topic.ends_with(&state_topic))
        .pop()
        .expect("the weapon's state");
    assert_eq!(state.json()["condition"], "unavailable");
    assert_eq!(state.json()["sign_outs_since_service"], 0);

    // A dashboard that subscribes afterwards is handed the retirement.
    let late = harness::Observer::start(
        armory.service.broker_address(),
        "late-dashboard",
        &state.topic,
    )
    .await;
    late.wait_until("the retained retirement", |seen| {
        seen.iter()
            .any(|s| s.retain && s.json()["service_status"] == "retired")
    })
    .await;
    late.stop().await;

    // Stored, and audited once with the armorer's name.
    let stored = armory
        .database()
        .weapon(&asset)
        .expect("weapon query")
        .expect("the weapon is in the store");
    assert_eq!(stored.status, ServiceStatus::Retired);
    assert_eq!(stored.sign_outs_since_service, 0);
    let rows = armory.audit(&AuditFilter {
        asset_tag: Some(asset.clone()),
        ..AuditFilter::default()
    });
    let retired: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action == AuditAction::Service && r.entry.reason == "retired")
        .collect();
    assert_eq!(retired.len(), 1, "{rows:#?}");
    assert_eq!(retired[0].entry.decision, Decision::Recorded);
    assert_eq!(
        retired[0].entry.employee_id.as_ref(),
        Some(&armorer.employee_id)
    );

    // Now the least used of its class, it is still never issued.
    let (officer, _, pin) = armory.officer_for_class("SLM-L1", class, &[]);
    let out = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(out.granted(), "{:?}", out.answer);
    let compartment = out.door.expect("the door cycled").compartment;
    assert_ne!(compartment, weapon.compartment);
    armory.wait_activity("signed_out", 1).await;
    let issued = armory
        .audit(&AuditFilter {
            asset_tag: Some(asset.clone()),
            ..AuditFilter::default()
        })
        .iter()
        .filter(|r| r.entry.action == AuditAction::SignedOut)
        .count();
    assert_eq!(issued, 0);
    armory.stop().await;
}
