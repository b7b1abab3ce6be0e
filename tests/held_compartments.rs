//! End to end: a compartment that closes empty while its weapon should be
//! in it, or reads another weapon's tag, is held locked with an alert and
//! an anomaly row; the rest of the locker keeps serving, and an armorer's
//! service opening clears the hold. (Its own test binary: metrics are
//! process-wide, and the lifecycle test counts alerts exactly.)

#[path = "support/harness.rs"]
mod harness;

use armory_actors::domain::{LockerId, ReaderId, ServiceStatus};
use armory_actors::ports::AuditAction;
use armory_actors::protocol::{AccessRequest, DeviceEvent, Topic};
use harness::TestArmory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_weapon_holds_its_compartment_until_an_armorer_comes() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let mut of_class: Vec<_> = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class && w.status == ServiceStatus::InService)
        .collect();
    of_class.sort_by_key(|w| (w.sign_outs_since_service, w.asset_tag.clone()));
    let first_choice = of_class[0];
    let compartment_topic = |number| Topic::CompartmentEvent {
        site: "SLM".into(),
        locker: locker.clone(),
        compartment: number,
    };

    // The door of the weapon the service would issue next closes empty,
    // with no opening in progress: its weapon is missing.
    let missing = DeviceEvent::DoorClosed {
        weapon_present: false,
    };
    armory
        .send_event(
            "SLM-L1",
            &compartment_topic(first_choice.compartment),
            missing,
        )
        .await;
    armory
        .observer
        .wait_until("the missing-weapon alert", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/alert") && s.json()["kind"] == "weapon_missing")
        })
        .await;

    // Another compartment reads a tag that is not its weapon's.
    let other = armory
        .agency
        .armory
        .weapons
        .values()
        .find(|w| w.locker == locker && w.compartment != first_choice.compartment)
        .expect("another weapon");
    let stranger = armory
        .agency
        .armory
        .weapons
        .values()
        .find(|w| w.locker != locker)
        .expect("a weapon of another locker");
    let wrong = DeviceEvent::WeaponTagRead {
        asset_tag: stranger.asset_tag.clone(),
    };
    armory
        .send_event("SLM-L1", &compartment_topic(other.compartment), wrong)
        .await;
    armory
        .observer
        .wait_until("the wrong-weapon alert", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/alert") && s.json()["kind"] == "wrong_weapon")
        })
        .await;

    // The held compartment is skipped; the rest of the locker serves.
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
    if of_class.len() > 1 {
        assert!(out.granted(), "{:?}", out.answer);
        assert_ne!(
            out.door.expect("door cycled").compartment,
            first_choice.compartment
        );
    } else {
        assert_eq!(out.reason(), Some("no_weapon_available"));
    }
    let anomalies: Vec<_> = armory
        .all_audit()
        .into_iter()
        .filter(|r| r.entry.action == AuditAction::Anomaly)
        .map(|r| r.entry.reason)
        .collect();
    assert_eq!(anomalies, ["weapon_missing", "wrong_weapon"]);

    // An armorer's service opening finds the weapon and clears the hold.
    let (armorer, armorer_pin) = armory.armorer();
    let opened = armory
        .sim
        .scan(
            &locker,
            &ReaderId::from("R1"),
            &armorer.badge,
            Some(&armorer_pin),
            AccessRequest::Service {
                compartment: first_choice.compartment,
            },
        )
        .await
        .expect("answered");
    assert!(opened.granted(), "{:?}", opened.answer);
    let state_topic = format!("/state/compartment/{}", first_choice.compartment);
    armory
        .observer
        .wait_until("the hold to clear", |seen| {
            seen.iter()
                .rev()
                .find(|s| s.topic.ends_with(&state_topic))
                .is_some_and(|s| s.json()["door"] == "closed" && s.json().get("held").is_none())
        })
        .await;
    armory.stop().await;
}
