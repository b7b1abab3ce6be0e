//! Device faults under tokio's paused clock, each asserting the alert, the
//! published state, the audit row, the metrics, and that the rest of the
//! locker (or, when its whole controller is gone, another locker of the
//! site) still serves a sign-out during the fault.

#[path = "support/bench.rs"]
mod bench;
#[path = "support/counted.rs"]
mod counted;

use std::time::Duration;

use armory_actors::compartment::DrillFault;
use armory_actors::locker::LockerMsg;
use armory_actors::maintenance::MaintenancePolicy;
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent};
use armory_actors::reader::GARBAGE_LIMIT;
use bench::{
    compartment_topic, controller, controller_at, reader_topic, sign_out, Bench, Layout,
    OFFICER_BADGE, SECOND_LOCKER, SUPERVISOR_BADGE,
};
use counted::Counted;

const OTHER_OFFICER: &str = "0C0C0C0C";

/// `armory_devices{kind,state}`.
fn devices(counted: &Counted, kind: &str, state: &str) -> f64 {
    counted.gauge("armory_devices", &[("kind", kind), ("state", state)])
}

/// `armory_actor_restarts_total{kind}` and `armory_actor_isolations_total{kind}`.
fn restarts_and_isolations(counted: &Counted, kind: &str) -> (u64, u64) {
    (
        counted.value("armory_actor_restarts_total", &[("kind", kind)]),
        counted.value("armory_actor_isolations_total", &[("kind", kind)]),
    )
}

/// Makes compartment `number` of SLM-L1 fail the way `fault` says.
fn drill(bench: &Bench, number: u16, fault: DrillFault) {
    let locker = bench.directory.locker(&"SLM-L1".into()).expect("running");
    let drill = LockerMsg::FaultDrill {
        compartment: number,
        fault,
    };
    locker.cast(drill).expect("sent");
}

/// The reader each `device_health` row of this reason names.
fn health_rows(bench: &Bench, reason: &str) -> Vec<(Option<String>, Option<u16>)> {
    let audit = bench.audit.lock().expect("audit lock");
    audit
        .iter()
        .filter(|e| e.action == AuditAction::DeviceHealth && e.reason == reason)
        .map(|e| (e.reader.as_ref().map(|r| r.to_string()), e.compartment))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_silent_controller_goes_offline_and_comes_back() {
    let counted = Counted::default();
    let _recording = counted.install();
    let layout = Layout {
        second_locker: true,
        ..Layout::default()
    };
    let mut bench = Bench::start_laid_out(MaintenancePolicy::default(), layout).await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");
    assert_eq!(devices(&counted, "controller", "online"), 2.0);

    // SLM-L1 falls silent while SLM-L2 beats every 10 s. One missed
    // heartbeat is not offline; silence past 30 s is.
    for _ in 0..2 {
        bench.pass(Duration::from_secs(10)).await;
        bench
            .send(controller_at(SECOND_LOCKER), DeviceEvent::Heartbeat)
            .await;
    }
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");
    for _ in 0..2 {
        bench.pass(Duration::from_secs(10)).await;
        bench
            .send(controller_at(SECOND_LOCKER), DeviceEvent::Heartbeat)
            .await;
    }
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["controller"], "offline");
    assert_eq!(state["readers"]["R1"], "unknown", "{state}");
    assert_eq!(bench.state("/SLM-L2/state")["controller"], "online");
    assert_eq!(bench.alerts(), ["controller_offline"]);
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["controller_offline"]
    );
    assert_eq!(devices(&counted, "controller", "offline"), 1.0);
    assert_eq!(devices(&counted, "controller", "online"), 1.0);

    // Nothing at SLM-L1 can be reached; another locker of the site serves.
    let outcome = bench
        .scan_at(SECOND_LOCKER, "R1", OFFICER_BADGE, sign_out())
        .await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    assert_eq!(outcome["compartment"], 1);
    let door = |compartment| armory_actors::protocol::Topic::CompartmentEvent {
        site: "SLM".into(),
        locker: SECOND_LOCKER.into(),
        compartment,
    };
    bench.send(door(1), DeviceEvent::DoorOpened).await;
    let closed = DeviceEvent::DoorClosed {
        weapon_present: false,
    };
    bench.send(door(1), closed).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    assert_eq!(
        bench.state("/state/weapon/LL-02001")["condition"],
        "signed_out"
    );

    bench.send(controller(), DeviceEvent::Heartbeat).await;
    assert_eq!(bench.state("/SLM-L1/state")["controller"], "online");
    assert_eq!(bench.alerts(), ["controller_offline", "controller_online"]);
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["controller_offline", "controller_online"]
    );
    assert_eq!(devices(&counted, "controller", "online"), 2.0);

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
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_silent_reader_goes_offline_while_the_other_reader_serves() {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;

    // The controller spoke, its readers not yet: unknown, not online.
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["readers"]["R1"], "unknown", "{state}");
    assert_eq!(devices(&counted, "reader", "unknown"), 2.0);
    for reader in ["R1", "R2"] {
        bench
            .send(reader_topic(reader), DeviceEvent::Heartbeat)
            .await;
    }
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "online");
    assert_eq!(devices(&counted, "reader", "online"), 2.0);

    // R1 stops answering the controller's polls; R2 and the controller
    // beat on. One missed beat is not offline; silence past 30 s is.
    for round in 1..=4 {
        bench.pass(Duration::from_secs(10)).await;
        bench.send(controller(), DeviceEvent::Heartbeat).await;
        bench.send(reader_topic("R2"), DeviceEvent::Heartbeat).await;
        if round == 2 {
            assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "online");
        }
    }
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["readers"]["R1"], "offline", "{state}");
    assert_eq!(state["readers"]["R2"], "online");
    assert_eq!(state["controller"], "online");
    assert_eq!(bench.alerts(), ["reader_offline"]);
    assert_eq!(
        health_rows(&bench, "reader_offline"),
        [(Some("R1".to_owned()), None)]
    );
    assert_eq!(devices(&counted, "reader", "offline"), 1.0);
    assert_eq!(devices(&counted, "reader", "online"), 1.0);

    // The other reader serves a whole sign-out meanwhile.
    let outcome = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    let compartment = outcome["compartment"].as_u64().expect("a compartment") as u16;
    bench.door_cycle(compartment, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);

    // R1 speaks again: back online, once.
    bench.send(reader_topic("R1"), DeviceEvent::Heartbeat).await;
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "online");
    assert_eq!(bench.alerts(), ["reader_offline", "reader_online"]);
    assert_eq!(health_rows(&bench, "reader_online").len(), 1);
    assert_eq!(devices(&counted, "reader", "online"), 2.0);

    // The controller's last will: its readers cannot be heard, so they
    // are unknown, without an alert of their own.
    bench
        .send(controller(), DeviceEvent::ControllerOffline)
        .await;
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["controller"], "offline");
    assert_eq!(state["readers"]["R1"], "unknown");
    assert_eq!(state["readers"]["R2"], "unknown");
    assert_eq!(devices(&counted, "reader", "unknown"), 2.0);
    assert_eq!(devices(&counted, "reader", "online"), 0.0);
    assert_eq!(
        bench.alerts(),
        ["reader_offline", "reader_online", "controller_offline"]
    );
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_reader_flooding_garbage_is_isolated_while_the_other_reader_serves() {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    for reader in ["R1", "R2"] {
        bench
            .send(reader_topic(reader), DeviceEvent::Heartbeat)
            .await;
    }

    // Reads that are no badge at all, as from a failing antenna: each is
    // denied and audited; every GARBAGE_LIMIT of them fail the actor,
    // which is restarted three times, then isolated.
    for _ in 0..4 * GARBAGE_LIMIT {
        let outcome = bench.scan("R1", "Z?#", sign_out()).await;
        assert_eq!(outcome["reason"], "bad_request");
    }
    let alerts = bench.alerts();
    assert_eq!(alerts.iter().filter(|a| *a == "actor_restarted").count(), 3);
    assert_eq!(alerts.iter().filter(|a| *a == "actor_isolated").count(), 1);
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        [
            "actor_restarted",
            "actor_restarted",
            "actor_restarted",
            "actor_isolated"
        ]
    );
    assert_eq!(
        health_rows(&bench, "actor_isolated"),
        [(Some("R1".to_owned()), None)]
    );
    assert_eq!(
        bench.audited(AuditAction::SignOutRequest).len(),
        4 * GARBAGE_LIMIT
    );
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "faulted");
    assert_eq!(restarts_and_isolations(&counted, "reader"), (3, 1));
    assert_eq!(devices(&counted, "reader", "faulted"), 1.0);

    // Fail secure: a real badge at the faulted reader is denied, audited
    // and shown, and nothing opens; its heartbeats do not revive it.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], false);
    assert_eq!(outcome["reason"], "device_isolated");
    assert_eq!(
        bench
            .audited(AuditAction::SignOutRequest)
            .last()
            .map(String::as_str),
        Some("device_isolated")
    );
    assert_eq!(bench.unlocks(), 0);
    bench.send(reader_topic("R1"), DeviceEvent::Heartbeat).await;
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "faulted");

    // Nor does its controller going away and coming back clear it.
    bench
        .send(controller(), DeviceEvent::ControllerOffline)
        .await;
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["readers"]["R1"], "faulted", "{state}");
    assert_eq!(state["readers"]["R2"], "unknown");
    bench.beat().await;
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "faulted");
    assert_eq!(devices(&counted, "reader", "faulted"), 1.0);

    // The other reader serves a whole sign-out.
    let outcome = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    assert_eq!(outcome["compartment"], 1);
    bench.door_cycle(1, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);

    // The technician's clear: back, unknown until it speaks, then online.
    bench
        .scan("R2", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    assert!(bench.alerts().contains(&"actor_reinstated".to_owned()));
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "unknown");
    bench.send(reader_topic("R1"), DeviceEvent::Heartbeat).await;
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "online");
    assert_eq!(devices(&counted, "reader", "faulted"), 0.0);
    assert_eq!(devices(&counted, "reader", "online"), 2.0);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_every_device_is_unknown_until_it_speaks() {
    let counted = Counted::default();
    let _recording = counted.install();
    let layout = Layout {
        quiet: true,
        ..Layout::default()
    };
    let mut bench = Bench::start_laid_out(MaintenancePolicy::default(), layout).await;

    // A fresh service: nothing heard, nothing assumed, however long.
    bench.pass(Duration::from_secs(90)).await;
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["controller"], "unknown", "{state}");
    assert_eq!(state["readers"]["R1"], "unknown");
    assert_eq!(state["readers"]["R2"], "unknown");
    for number in 1..=4 {
        let compartment = bench.state(&format!("/state/compartment/{number}"));
        assert_eq!(compartment["door"], "unknown", "{compartment}");
    }
    assert_eq!(devices(&counted, "controller", "unknown"), 1.0);
    assert_eq!(devices(&counted, "reader", "unknown"), 2.0);
    assert!(bench.alerts().is_empty());
    assert!(bench.audited(AuditAction::DeviceHealth).is_empty());

    // R1's heartbeat speaks for it and for its controller; R2 stays
    // unknown, and silence never turns unknown into offline.
    bench.send(reader_topic("R1"), DeviceEvent::Heartbeat).await;
    let state = bench.state("/SLM-L1/state");
    assert_eq!(state["controller"], "online");
    assert_eq!(state["readers"]["R1"], "online");
    assert_eq!(state["readers"]["R2"], "unknown");
    assert_eq!(devices(&counted, "reader", "unknown"), 1.0);
    assert!(bench.alerts().is_empty());

    // A compartment reported closed, then its actor restarts: unknown
    // again until the hardware reports the door.
    let closed = DeviceEvent::DoorClosed {
        weapon_present: true,
    };
    bench.send(compartment_topic(2), closed.clone()).await;
    assert_eq!(bench.state("/state/compartment/2")["door"], "closed");
    drill(&bench, 2, DrillFault::Error);
    bench.settle().await;
    assert_eq!(bench.state("/state/compartment/2")["door"], "unknown");
    bench.send(compartment_topic(2), closed).await;
    assert_eq!(bench.state("/state/compartment/2")["door"], "closed");
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

    // The controller and its readers keep beating while the door stands
    // open.
    for _ in 0..13 {
        bench.pass(Duration::from_secs(10)).await;
        bench.beat().await;
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

    let compartment = bench.state("/state/compartment/3");
    assert_eq!(compartment["alarm"], "door_forced", "{compartment}");
    assert!(bench.state("/SLM-L1/state").get("alarm").is_none());

    bench.send(controller(), DeviceEvent::Tamper).await;
    assert_eq!(bench.alerts(), ["door_forced", "weapon_missing", "tamper"]);
    assert_eq!(bench.audited(AuditAction::Alarm), ["door_forced", "tamper"]);
    assert_eq!(bench.state("/SLM-L1/state")["alarm"], "tamper");

    // The rest of the locker serves a whole sign-out during both alarms.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], true);
    assert_eq!(outcome["compartment"], 1);
    bench.door_cycle(1, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);

    // Acknowledged, the tamper alarm is off the published state.
    bench
        .scan("R2", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    assert!(bench.state("/SLM-L1/state").get("alarm").is_none());
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_compartment_that_fails_mid_sign_out_is_restarted_and_resumes() {
    fails_mid_sign_out_and_resumes(DrillFault::Error).await;
}

#[tokio::test(start_paused = true)]
async fn a_compartment_that_panics_mid_sign_out_is_restarted_and_resumes() {
    fails_mid_sign_out_and_resumes(DrillFault::Panic).await;
}

/// A compartment actor fails (its handler errs, or panics) between the
/// unlock and the door: it is restarted, resumes the opening from the
/// store, and the sign-out is recorded once.
async fn fails_mid_sign_out_and_resumes(fault: DrillFault) {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 1);

    drill(&bench, 1, fault);
    bench.settle().await;
    assert!(bench.alerts().contains(&"actor_restarted".to_owned()));
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["actor_restarted"]
    );
    assert_eq!(health_rows(&bench, "actor_restarted"), [(None, Some(1))]);
    assert_eq!(restarts_and_isolations(&counted, "compartment"), (1, 0));
    let failures = &[("parent", "locker")];
    assert_eq!(counted.value("armory_actor_failures_total", failures), 1);

    // The restarted compartment resumed the opening from the store; what
    // its door did meanwhile is unknown until the hardware says, and it is
    // not held.
    let state = bench.state("/state/compartment/1");
    assert_eq!(state["door"], "unknown", "{state}");
    assert!(state.get("held").is_none());

    // The officer takes the weapon: recorded as a sign-out, once.
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
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    for fault in [
        DrillFault::Error,
        DrillFault::Panic,
        DrillFault::Error,
        DrillFault::Panic,
    ] {
        drill(&bench, 1, fault);
        bench.settle().await;
    }
    let alerts = bench.alerts();
    assert_eq!(alerts.iter().filter(|a| *a == "actor_restarted").count(), 3);
    assert_eq!(alerts.iter().filter(|a| *a == "actor_isolated").count(), 1);
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        [
            "actor_restarted",
            "actor_restarted",
            "actor_restarted",
            "actor_isolated"
        ]
    );
    assert_eq!(health_rows(&bench, "actor_isolated"), [(None, Some(1))]);
    let state = bench.state("/state/compartment/1");
    assert_eq!(state["held"], "isolated", "{state}");
    assert_eq!(state["door"], "unknown");
    assert_eq!(restarts_and_isolations(&counted, "compartment"), (3, 1));

    // No command goes to it; its events are refused; the rest serves.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 2);
    bench.door_cycle(2, false).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    bench
        .send(compartment_topic(1), DeviceEvent::DoorOpened)
        .await;
    assert!(!bench.alerts().contains(&"door_forced".to_owned()));
    let rejected = &[("reason", "isolated")];
    assert_eq!(
        counted.value("armory_device_events_rejected_total", rejected),
        1
    );

    // A supervisor's acknowledgement is the technician's clear.
    bench
        .scan("R2", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    assert!(bench.alerts().contains(&"actor_reinstated".to_owned()));
    assert_eq!(
        bench
            .audited(AuditAction::DeviceHealth)
            .last()
            .map(String::as_str),
        Some("actor_reinstated")
    );
    assert!(bench.state("/state/compartment/1").get("held").is_none());
    let again = bench.scan("R1", OTHER_OFFICER, sign_out()).await;
    assert_eq!(again["compartment"], 1);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn a_resumed_opening_whose_door_reports_nothing_moved_is_closed_as_interrupted() {
    let mut bench = Bench::start().await;
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["compartment"], 1);
    drill(&bench, 1, DrillFault::Error);
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
