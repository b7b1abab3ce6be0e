//! Device faults under tokio's paused clock, each asserting the alert, the
//! published state, the audit row, and that the rest of the locker still
//! serves a sign-out during the fault.

#[path = "support/bench.rs"]
mod bench;

use std::time::Duration;

use armory_actors::locker::LockerMsg;
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent};
use bench::{compartment_topic, controller, sign_out, Bench, OFFICER_BADGE, SUPERVISOR_BADGE};

const OTHER_OFFICER: &str = "0C0C0C0C";

#[tokio::test(start_paused = true)]
async fn a_silent_controller_goes_offline_and_comes_back() {
    let mut bench = Bench::start().await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");

    // One missed heartbeat (10 s) is not offline; silence past 30 s is.
    bench.pass(Duration::from_secs(20)).await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");
    bench.pass(Duration::from_secs(20)).await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "offline");
    assert_eq!(bench.alerts(), ["controller_offline"]);
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["controller_offline"]
    );

    bench.send(controller(), DeviceEvent::Heartbeat).await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");
    assert_eq!(bench.alerts(), ["controller_offline", "controller_online"]);

    // Its last will takes it offline at once, once.
    bench
        .send(controller(), DeviceEvent::ControllerOffline)
        .await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "offline");
    assert_eq!(
        bench
            .alerts()
            .iter()
            .filter(|a| *a == "controller_offline")
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_lock_that_fails_twice_is_jammed_and_the_rest_still_serves() {
    let mut bench = Bench::start().await;

    // Compartment 1 holds the least used TASER; its door never opens.
    for attempt in 1..=2 {
        let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
        assert_eq!(outcome["granted"], true, "attempt {attempt}");
        assert_eq!(outcome["compartment"], 1);
        bench.pass(Duration::from_secs(31)).await;
        bench.send(controller(), DeviceEvent::Heartbeat).await;
    }
    assert_eq!(
        bench.audited(AuditAction::UnlockExpired),
        ["unlock_expired", "unlock_expired"]
    );
    assert!(bench.alerts().contains(&"lock_jammed".to_owned()));
    assert_eq!(bench.state("/state/compartment/1")["held"], "lock_jammed");
    assert!(bench
        .audited(AuditAction::Anomaly)
        .contains(&"lock_jammed".to_owned()));

    // Out of rotation: the next sign-out gets compartment 2.
    let outcome = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(outcome["compartment"], 2);
    bench.door_cycle(2, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_door_held_open_alarms_until_closed_and_acknowledged() {
    let mut bench = Bench::start().await;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 1);
    bench
        .send(compartment_topic(1), DeviceEvent::DoorOpened)
        .await;

    // The controller keeps beating while the door stands open.
    for _ in 0..13 {
        bench.pass(Duration::from_secs(10)).await;
        bench.send(controller(), DeviceEvent::Heartbeat).await;
    }
    assert_eq!(bench.alerts(), ["door_held_open"]);
    assert_eq!(bench.state("/state/compartment/1")["door"], "open");
    assert_eq!(bench.audited(AuditAction::Alarm), ["door_held_open"]);

    // Another reader, another compartment, serve meanwhile.
    let other = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(other["compartment"], 2);

    // Closed but not acknowledged: the alarm stays; then acknowledged.
    bench
        .send(
            compartment_topic(1),
            DeviceEvent::DoorClosed {
                weapon_present: false,
            },
        )
        .await;
    let officer_ack = bench
        .scan("R1", OFFICER_BADGE, AccessRequest::Acknowledge)
        .await;
    assert_eq!(officer_ack["reason"], "role_not_permitted");
    let ack = bench
        .scan("R1", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    assert_eq!(ack["reason"], "alarms_acknowledged");
    assert_eq!(
        bench.audited(AuditAction::AlarmAcknowledged),
        ["role_not_permitted", "alarms_acknowledged"]
    );
    let alarms: Vec<_> = bench
        .seen
        .iter()
        .filter(|m| m.topic.ends_with("/state/compartment/1"))
        .filter_map(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok())
        .collect();
    assert!(alarms.iter().any(|s| s["alarm"] == "door_held_open"));
    assert!(alarms.last().is_some_and(|s| s.get("alarm").is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_forced_door_and_a_tamper_switch_alarm_and_the_weapon_is_checked() {
    let mut bench = Bench::start().await;
    bench
        .send(compartment_topic(3), DeviceEvent::DoorOpened)
        .await;
    bench
        .send(
            compartment_topic(3),
            DeviceEvent::DoorClosed {
                weapon_present: false,
            },
        )
        .await;
    assert_eq!(bench.alerts(), ["door_forced", "weapon_missing"]);
    assert_eq!(
        bench.state("/state/compartment/3")["held"],
        "weapon_missing"
    );

    bench.send(controller(), DeviceEvent::Tamper).await;
    assert_eq!(bench.alerts(), ["door_forced", "weapon_missing", "tamper"]);
    assert_eq!(bench.audited(AuditAction::Alarm), ["door_forced", "tamper"]);

    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], true);
    assert_eq!(outcome["compartment"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_compartment_that_fails_mid_sign_out_is_restarted_and_resumes() {
    let mut bench = Bench::start().await;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 1);

    // Its actor fails between the unlock and the door.
    let locker = bench.directory.locker(&"SLM-L1".into()).expect("running");
    locker
        .cast(LockerMsg::FaultDrill { compartment: 1 })
        .expect("sent");
    bench.settle().await;
    assert!(bench.alerts().contains(&"actor_restarted".to_owned()));
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["actor_restarted"]
    );

    // The officer takes the weapon: the restarted compartment resumed the
    // opening from the store and records the sign-out, once.
    bench.door_cycle(1, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    assert_eq!(
        bench.state("/state/weapon/LL-01001")["condition"],
        "signed_out"
    );

    // Meanwhile nothing else was disturbed.
    let other = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(other["compartment"], 2);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_compartment_that_keeps_failing_is_isolated_until_cleared() {
    let mut bench = Bench::start().await;
    let locker = bench.directory.locker(&"SLM-L1".into()).expect("running");
    for _ in 0..4 {
        locker
            .cast(LockerMsg::FaultDrill { compartment: 1 })
            .expect("sent");
        bench.settle().await;
    }
    let alerts = bench.alerts();
    assert_eq!(alerts.iter().filter(|a| *a == "actor_restarted").count(), 3);
    assert_eq!(alerts.iter().filter(|a| *a == "actor_isolated").count(), 1);

    // No command goes to it; its events are refused; the rest serves.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 2);
    bench
        .send(compartment_topic(1), DeviceEvent::DoorOpened)
        .await;
    assert!(!bench.alerts().contains(&"door_forced".to_owned()));

    // A supervisor's acknowledgement is the technician's clear.
    bench
        .scan("R2", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    assert!(bench.alerts().contains(&"actor_reinstated".to_owned()));
    bench.door_cycle(2, false).await;
    let again = bench.scan("R1", OTHER_OFFICER, sign_out()).await;
    assert_eq!(again["compartment"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_opening_whose_door_reports_nothing_moved_is_closed_as_interrupted() {
    let mut bench = Bench::start().await;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 1);
    let locker = bench.directory.locker(&"SLM-L1".into()).expect("running");
    locker
        .cast(LockerMsg::FaultDrill { compartment: 1 })
        .expect("sent");
    bench.settle().await;

    // The controller reports the compartment closed with its weapon in it
    // (as after a service restart): the cut opening is interrupted, not an
    // anomaly, and the weapon is offered again.
    let report = DeviceEvent::DoorClosed {
        weapon_present: true,
    };
    bench.send(compartment_topic(1), report).await;
    assert_eq!(bench.audited(AuditAction::UnlockExpired), ["interrupted"]);
    assert!(bench.audited(AuditAction::Anomaly).is_empty());
    assert!(bench.audited(AuditAction::SignedOut).is_empty());
    let again = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(again["compartment"], 1);
}
