//! End to end: a weapon crosses its use threshold through a real sign-out,
//! and the service-due alert appears once on MQTT, once in the metrics and
//! once in the audit trail, even though every device event of that
//! sign-out (the scan, the door opening, the door closing on an empty
//! compartment) is delivered a second time, as QoS 1 does after a lost
//! acknowledgement. The metric is process-wide, so this file holds one
//! test: nothing else in its process raises alerts.

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use armory::store::AuditFilter;
use armory_actors::clock::Clock;
use armory_actors::domain::{LockerId, ReaderId, ServiceStatus, WeaponClass};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use harness::{TestArmory, DATA_NOW};
use jiff::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weapon_due_by_use_is_alerted_once_despite_redelivery() {
    // The least-used pepperball launcher of SLM-L1 becomes due at its next
    // sign-out; the day threshold is set far off, so the reason is use.
    let probe =
        armory_actors::import::AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data");
    let locker = LockerId::from("SLM-L1");
    let class = WeaponClass::Pepperball;
    let least_used = probe
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class)
        .filter(|w| w.status == ServiceStatus::InService)
        .map(|w| w.sign_outs_since_service)
        .min()
        .expect("SLM-L1 has pepperball launchers");
    let threshold = least_used + 1;
    let config = format!("[maintenance.classes.pepperball]\nsign_outs = {threshold}\ndays = 3650");
    let now: Timestamp = DATA_NOW.parse().expect("valid instant");
    let armory = TestArmory::start_with(Clock::manual(now), &config).await;
    let (officer, _, pin) = armory.officer_for_class("SLM-L1", class, &[]);
    let device_events_before = armory.observer.all().len();

    // The sign-out that crosses the threshold.
    let out = armory
        .sim
        .scan(
            &locker,
            &ReaderId::from("R1"),
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
    armory.wait_activity("signed_out", 1).await;
    armory
        .observer
        .wait_until("the service-due alert", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/alert") && s.json()["kind"] == "service_due")
        })
        .await;
    let asset = armory
        .audit(&AuditFilter {
            employee_id: Some(officer.employee_id.clone()),
            ..AuditFilter::default()
        })
        .iter()
        .find(|row| row.entry.action == AuditAction::SignedOut)
        .and_then(|row| row.entry.asset_tag.clone())
        .expect("the sign-out names its weapon");

    // Every device event of that sign-out, delivered again.
    let reader_topic = "armory/v1/SLM/SLM-L1/event/reader/R1";
    let door_topic = format!("armory/v1/SLM/SLM-L1/event/compartment/{compartment}");
    let sent: Vec<_> = armory.observer.all()[device_events_before..]
        .iter()
        .filter(|s| s.topic == reader_topic || s.topic == door_topic)
        .cloned()
        .collect();
    let kinds: Vec<_> = sent
        .iter()
        .map(|s| {
            s.json()["body"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["scan", "door_opened", "door_closed"]);
    let duplicates_before = armory.duplicate_events();
    for event in &sent {
        armory
            .observer
            .publish(&event.topic, event.payload.clone(), false)
            .await;
    }

    // Only once all three are counted as duplicates is it certain that
    // they were handled (and changed nothing).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while armory.duplicate_events() < duplicates_before + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redelivered events were never recognised as duplicates"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Once on MQTT, naming the weapon and why.
    let alerts = armory.alerts("service_due");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = alerts[0].json();
    assert_eq!(alert["asset_tag"], asset.as_str());
    assert_eq!(alert["locker"], "SLM-L1");
    assert!(
        alert["message"]
            .as_str()
            .is_some_and(|m| m.contains("due_by_sign_outs")),
        "{alert}"
    );
    assert!(!alerts[0].retain, "alerts are not retained");

    // Once in the metrics.
    let metrics = armory.service.render_metrics();
    assert_eq!(
        harness::counter(&metrics, "armory_alerts_total", "kind=\"service_due\""),
        1,
        "{metrics}"
    );

    // Once in the audit trail, with the reason.
    let rows = armory.audit(&AuditFilter {
        asset_tag: Some(asset.clone()),
        ..AuditFilter::default()
    });
    let due: Vec<_> = rows
        .iter()
        .filter(|row| row.entry.action == AuditAction::ServiceDue)
        .collect();
    assert_eq!(due.len(), 1, "{rows:#?}");
    assert_eq!(due[0].entry.decision, Decision::Recorded);
    assert_eq!(due[0].entry.reason, "due_by_sign_outs");
    let signed_out = rows
        .iter()
        .filter(|row| row.entry.action == AuditAction::SignedOut)
        .count();
    assert_eq!(signed_out, 1, "the sign-out counted once");

    // The store: due, and one sign-out more than before, not two.
    let stored = armory
        .database()
        .weapon(&asset)
        .expect("weapon query")
        .expect("the weapon is in the store");
    assert_eq!(stored.status, ServiceStatus::NeedsService);
    assert_eq!(stored.sign_outs_since_service, threshold);
    let imported = &probe.armory.weapons[&asset];
    assert_eq!(stored.total_sign_outs, imported.total_sign_outs + 1);
    armory
        .observer
        .wait_until("the weapon's state shows it due", |seen| {
            seen.iter().any(|s| {
                s.topic.ends_with(&format!("/state/weapon/{asset}"))
                    && s.json()["service_status"] == "needs_service"
            })
        })
        .await;
    armory.stop().await;
}
