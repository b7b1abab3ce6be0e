//! End to end: a weapon's life beyond the door. It becomes due for service
//! by use; a problem reported at return quarantines it, so an officer can
//! neither draw it nor open its compartment, while an armorer can; the
//! armorer's service record releases it and it is issued again. Each alert
//! appears once on MQTT, in the metrics and in the audit trail, even when
//! its triggering event is delivered twice; bad reports are refused and
//! audited as anomalies.

#[path = "support/harness.rs"]
mod harness;

use armory_actors::clock::Clock;
use armory_actors::domain::{AssetTag, CompartmentNo, LockerId, ReaderId, ServiceStatus};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent, ProblemPayload, Topic};
use harness::{TestArmory, DATA_NOW};
use jiff::Timestamp;

fn reader_topic() -> Topic {
    Topic::ReaderEvent {
        site: "SLM".into(),
        locker: "SLM-L1".into(),
        reader: ReaderId::from("R1"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_weapon_is_quarantined_serviced_and_issued_again() {
    // Probe the data for the class first, to set its due threshold: the
    // least-used weapon of the class becomes due at its next sign-out.
    let now: Timestamp = DATA_NOW.parse().expect("valid instant");
    let probe =
        armory_actors::import::AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data");
    let locker = LockerId::from("SLM-L1");
    let least_used = |class| {
        probe
            .armory
            .weapons
            .values()
            .filter(|w| w.locker == locker && w.class == class)
            .filter(|w| w.status == ServiceStatus::InService)
            .map(|w| w.sign_outs_since_service)
            .min()
    };
    let pepperball = armory_actors::domain::WeaponClass::Pepperball;
    let threshold = least_used(pepperball).expect("SLM-L1 has pepperball launchers") + 1;
    let config = format!("[maintenance.classes.pepperball]\nsign_outs = {threshold}");
    let armory = TestArmory::start_with(Clock::manual(now), &config).await;
    let (officer, class, pin) = armory.officer_for_class("SLM-L1", pepperball, &[]);
    assert_eq!(class, pepperball);
    let r1 = ReaderId::from("R1");

    // Out and back: the sign-out makes it due.
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
    armory.wait_activity("signed_out", 1).await;
    let compartment: CompartmentNo = out.door.expect("door cycled").compartment;
    let asset: AssetTag = armory
        .all_audit()
        .iter()
        .find_map(|r| r.entry.asset_tag.clone())
        .expect("a weapon was chosen");
    armory
        .observer
        .wait_until("the service-due alert", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/alert") && s.json()["kind"] == "service_due")
        })
        .await;
    let back = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::Return,
        )
        .await
        .expect("answered");
    assert!(back.granted());
    armory.wait_activity("returned", 1).await;

    // Bad reports first: an unknown code, and a weapon the officer never
    // held; both refused, audited as anomalies, nothing changes.
    let unknown_code = DeviceEvent::PanelReport {
        badge_uid: officer.badge.reveal().to_owned(),
        asset_tag: asset.clone(),
        deployments: Some(3),
        problem: Some(ProblemPayload {
            code: "exploded".into(),
            text: None,
        }),
    };
    armory
        .send_event("SLM-L1", &reader_topic(), unknown_code)
        .await;
    let other: AssetTag = probe
        .armory
        .weapons
        .values()
        .find(|w| w.locker == locker && w.asset_tag != asset)
        .map(|w| w.asset_tag.clone())
        .expect("another weapon");
    let not_held = DeviceEvent::PanelReport {
        badge_uid: officer.badge.reveal().to_owned(),
        asset_tag: other,
        deployments: None,
        problem: Some(ProblemPayload {
            code: "damaged".into(),
            text: None,
        }),
    };
    armory.send_event("SLM-L1", &reader_topic(), not_held).await;
    armory
        .observer
        .wait_until("two refusals", |seen| {
            seen.iter()
                .filter(|s| s.topic.ends_with("/activity") && s.json()["kind"] == "anomaly")
                .count()
                >= 2
        })
        .await;

    // The real report: a malfunction, found at return. Delivered twice.
    let report = DeviceEvent::PanelReport {
        badge_uid: officer.badge.reveal().to_owned(),
        asset_tag: asset.clone(),
        deployments: None,
        problem: Some(ProblemPayload {
            code: "malfunction".into(),
            text: Some("trigger sticks".into()),
        }),
    };
    let (_, bytes) = armory.send_event("SLM-L1", &reader_topic(), report).await;
    armory
        .observer
        .publish(&reader_topic().name(), bytes, false)
        .await;
    armory
        .observer
        .wait_until("the quarantine alert", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/alert") && s.json()["kind"] == "weapon_quarantined")
        })
        .await;
    let stored = armory
        .database()
        .weapon(&asset)
        .expect("query")
        .expect("weapon");
    assert_eq!(stored.status, ServiceStatus::Quarantined);
    assert_eq!(
        stored.deployments_since_service, 0,
        "the refused report changed nothing"
    );

    // An officer can neither open its compartment nor be issued it.
    let opened = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::Service { compartment },
        )
        .await
        .expect("answered");
    assert_eq!(opened.reason(), Some("role_not_permitted"));
    let again = armory
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
    assert!(again.granted());
    assert_ne!(again.door.expect("door cycled").compartment, compartment);
    armory.wait_activity("signed_out", 2).await;
    armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::Return,
        )
        .await
        .expect("answered");
    armory.wait_activity("returned", 2).await;

    // An armorer can: opens it, services it, releases it.
    let (armorer, armorer_pin) = armory.armorer();
    let opened = armory
        .sim
        .scan(
            &locker,
            &r1,
            &armorer.badge,
            Some(&armorer_pin),
            AccessRequest::Service { compartment },
        )
        .await
        .expect("answered");
    assert!(opened.granted(), "{:?}", opened.answer);
    let record = DeviceEvent::ServiceRecord {
        badge_uid: armorer.badge.reveal().to_owned(),
        asset_tag: asset.clone(),
        work: vec!["inspection".into(), "repair".into(), "function_test".into()],
        function_test_passed: true,
        outcome: "release".into(),
        notes: Some("trigger spring replaced".into()),
    };
    armory.send_event("SLM-L1", &reader_topic(), record).await;
    let weapon_topic = format!("/state/weapon/{asset}");
    armory
        .observer
        .wait_until("the service record", |seen| {
            seen.iter().any(|s| {
                s.topic.ends_with(&weapon_topic)
                    && s.json()["service_status"] == "in_service"
                    && s.json()["sign_outs_since_service"] == 0
            })
        })
        .await;

    // Released with fresh counters, it is the least used: issued again.
    let issued = armory
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
    assert_eq!(issued.door.expect("door cycled").compartment, compartment);

    // Each alert once: MQTT, metrics, audit. (Another weapon that was as
    // little used may have become due too; each alert names its weapon.)
    let about = |kind: &str| {
        armory
            .alerts(kind)
            .iter()
            .filter(|s| s.json()["asset_tag"] == asset.as_str())
            .count()
    };
    assert_eq!(about("service_due"), 1);
    assert_eq!(about("weapon_quarantined"), 1);
    let metrics = armory.service.render_metrics();
    assert_eq!(
        harness::counter(
            &metrics,
            "armory_alerts_total",
            "kind=\"weapon_quarantined\""
        ),
        1
    );
    let due_alerts = armory.alerts("service_due").len() as u64;
    assert_eq!(
        harness::counter(&metrics, "armory_alerts_total", "kind=\"service_due\""),
        due_alerts
    );
    let rows = armory.all_audit();
    let about_asset = |action| {
        rows.iter()
            .filter(|r| r.entry.action == action && r.entry.asset_tag.as_ref() == Some(&asset))
            .count()
    };
    assert_eq!(about_asset(AuditAction::ProblemReport), 1);
    assert_eq!(about_asset(AuditAction::ServiceDue), 1);
    let anomalies: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action == AuditAction::Anomaly && r.entry.decision == Decision::Denied)
        .map(|r| r.entry.reason.as_str())
        .collect();
    assert_eq!(anomalies, ["unknown_problem_code", "report_not_holder"]);
    let granted = rows
        .iter()
        .filter(|r| r.entry.decision == Decision::Granted)
        .count();
    assert_eq!(granted, armory.unlock_commands().len());
    armory.stop().await;
}
