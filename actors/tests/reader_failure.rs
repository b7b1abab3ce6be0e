//! A reader's actor that fails with scans still waiting in its mailbox,
//! under tokio's paused clock: every scan keeps exactly one audit row and
//! gets one outcome on the reader's display; those the reader decided
//! before it failed keep their own, the rest are denied as
//! `reader_failed`, announced and counted, and nothing opens for them;
//! the other reader serves meanwhile. The actor is failed by the fault
//! drill, by an error and by a panic, and once past its restart budget.
//! Panel reports and service records waiting there are refused the same
//! way, as anomalies, and change no weapon; one decided before keeps its
//! own row.

#[path = "support/bench.rs"]
mod bench;
#[path = "support/counted.rs"]
mod counted;

use armory_actors::compartment::DrillFault;
use armory_actors::locker::LockerMsg;
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent, ProblemPayload};
use bench::{reader_topic, sign_out, Bench, ARMORER_BADGE, OFFICER_BADGE, SUPERVISOR_BADGE};
use counted::Counted;
use uuid::Uuid;

const OTHER_OFFICER: &str = "0C0C0C0C";

/// A badge nobody holds.
const STRANGER: &str = "0E0E0E0E";

/// Makes reader `reader` of SLM-L1 fail the way `fault` says, once it has
/// dealt with the scans routed to it before.
fn drill(bench: &Bench, reader: &str, fault: DrillFault) {
    let locker = bench.directory.locker(&"SLM-L1".into()).expect("running");
    let drill = LockerMsg::ReaderFaultDrill {
        reader: reader.into(),
        fault,
    };
    locker.cast(drill).expect("sent");
}

/// Routes a scan at R1 of SLM-L1 without letting it be handled yet.
fn queue_scan(bench: &mut Bench, badge: &str, request: AccessRequest) -> Uuid {
    bench.queue(reader_topic("R1"), Bench::scan_event(badge, request))
}

/// The audit rows of scan `event`: (decision, reason).
fn rows_of(bench: &Bench, event: Uuid) -> Vec<(Decision, String)> {
    let audit = bench.audit.lock().expect("audit lock");
    audit
        .iter()
        .filter(|e| e.event_id == Some(event))
        .map(|e| (e.decision, e.reason.clone()))
        .collect()
}

/// The audit rows of panel event `event`: (action, decision, reason).
fn panel_rows_of(bench: &Bench, event: Uuid) -> Vec<(AuditAction, Decision, String)> {
    let audit = bench.audit.lock().expect("audit lock");
    audit
        .iter()
        .filter(|e| e.event_id == Some(event))
        .map(|e| (e.action, e.decision, e.reason.clone()))
        .collect()
}

/// The officer reports `rounds` fired with the weapon held.
fn rounds_report(asset_tag: &str, rounds: u32) -> DeviceEvent {
    DeviceEvent::PanelReport {
        badge_uid: OFFICER_BADGE.into(),
        asset_tag: asset_tag.into(),
        deployments: Some(rounds),
        problem: None,
    }
}

/// The officer reports the weapon held as damaged.
fn problem_report(asset_tag: &str) -> DeviceEvent {
    DeviceEvent::PanelReport {
        badge_uid: OFFICER_BADGE.into(),
        asset_tag: asset_tag.into(),
        deployments: None,
        problem: Some(ProblemPayload {
            code: "damaged".into(),
            text: Some("cracked housing".into()),
        }),
    }
}

/// The armorer releases a weapon after a passed function test.
fn service_release(asset_tag: &str) -> DeviceEvent {
    DeviceEvent::ServiceRecord {
        badge_uid: ARMORER_BADGE.into(),
        asset_tag: asset_tag.into(),
        work: vec!["inspection".into(), "function_test".into()],
        function_test_passed: true,
        outcome: "release".into(),
        notes: None,
    }
}

/// Activity messages `anomaly` with reason `reason`.
fn anomalies(bench: &Bench, reason: &str) -> usize {
    bench
        .activity()
        .iter()
        .filter(|a| a["kind"] == "anomaly" && a["reason"] == reason)
        .count()
}

/// The outcomes shown on R1 for scan `event`: (granted, reason).
fn shown_for(bench: &Bench, event: Uuid) -> Vec<(bool, String)> {
    bench
        .outcomes("R1")
        .iter()
        .filter(|o| o["scan"] == event.to_string())
        .map(|o| {
            let granted = o["granted"].as_bool().unwrap_or_default();
            (granted, o["reason"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// `armory_access_decisions_total` denied as `reader_failed` for a class.
fn reader_failed_count(counted: &Counted, class: &str) -> u64 {
    let labels = [
        ("decision", "denied"),
        ("reason", "reader_failed"),
        ("weapon_class", class),
    ];
    counted.value("armory_access_decisions_total", &labels)
}

/// Activity messages `access_denied` with reason `reader_failed`.
fn reader_failed_activity(bench: &Bench) -> usize {
    bench
        .activity()
        .iter()
        .filter(|a| a["kind"] == "access_denied" && a["reason"] == "reader_failed")
        .count()
}

#[tokio::test(start_paused = true)]
async fn scans_waiting_at_a_reader_that_errs_are_each_audited_once() {
    scans_outlive_a_failed_reader(DrillFault::Error).await;
}

#[tokio::test(start_paused = true)]
async fn scans_waiting_at_a_reader_that_panics_are_each_audited_once() {
    scans_outlive_a_failed_reader(DrillFault::Panic).await;
}

/// Two scans decided before the reader fails, three waiting behind the
/// failure: one row and one outcome each, and one unlock in all.
async fn scans_outlive_a_failed_reader(fault: DrillFault) {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    bench.beat().await;

    // Nothing runs until all of it is routed. The sign-out asks the
    // locker for a weapon, and the locker answers only after handing R1
    // everything behind it, so the drill and three scans wait in R1's
    // mailbox when it fails.
    let garbage = queue_scan(&mut bench, "Z?#", sign_out());
    let granted = queue_scan(&mut bench, OFFICER_BADGE, sign_out());
    drill(&bench, "R1", fault);
    let waiting = [
        queue_scan(&mut bench, OTHER_OFFICER, sign_out()),
        queue_scan(&mut bench, STRANGER, sign_out()),
        queue_scan(&mut bench, OFFICER_BADGE, AccessRequest::Return),
    ];
    bench.settle().await;
    assert!(bench.alerts().contains(&"actor_restarted".to_owned()));
    assert_eq!(
        bench.audited(AuditAction::DeviceHealth),
        ["actor_restarted"]
    );

    // Decided before the failure: their own rows and outcomes, once.
    assert_eq!(
        rows_of(&bench, garbage),
        [(Decision::Denied, "bad_request".to_owned())]
    );
    assert_eq!(
        shown_for(&bench, garbage),
        [(false, "bad_request".to_owned())]
    );
    assert_eq!(
        rows_of(&bench, granted),
        [(Decision::Granted, "granted".to_owned())]
    );
    assert_eq!(shown_for(&bench, granted), [(true, "granted".to_owned())]);

    // Left undecided: denied as reader_failed, once each, and shown.
    for event in waiting {
        let denied = (Decision::Denied, "reader_failed".to_owned());
        assert_eq!(rows_of(&bench, event), [denied], "scan {event}");
        let shown = (false, "reader_failed".to_owned());
        assert_eq!(shown_for(&bench, event), [shown], "scan {event}");
    }
    assert_eq!(bench.outcomes("R1").len(), 5);
    assert_eq!(reader_failed_activity(&bench), 3);
    assert_eq!(reader_failed_count(&counted, "cew"), 2);
    assert_eq!(reader_failed_count(&counted, "none"), 1);

    // One unlock, for the grant; nothing opened for the denied.
    assert_eq!(bench.unlocks(), 1);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());

    // The other reader serves the officer whose sign-out was denied, and
    // the restarted R1 serves again.
    let outcome = bench.scan("R2", OTHER_OFFICER, sign_out()).await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    let again = bench.scan("R1", STRANGER, sign_out()).await;
    assert_eq!(again["reason"], "unknown_badge");
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn scans_waiting_at_a_reader_isolated_by_its_failure_are_each_audited_once() {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    bench.beat().await;

    // Three failures use up R1's restart budget.
    for fault in [DrillFault::Error, DrillFault::Panic, DrillFault::Error] {
        drill(&bench, "R1", fault);
        bench.settle().await;
    }
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "online");

    // The fourth comes behind a return (which asks the locker, so the
    // rest is routed first) and before two sign-outs.
    let decided = queue_scan(&mut bench, OTHER_OFFICER, AccessRequest::Return);
    drill(&bench, "R1", DrillFault::Panic);
    let waiting = [
        queue_scan(&mut bench, OFFICER_BADGE, sign_out()),
        queue_scan(&mut bench, OTHER_OFFICER, sign_out()),
    ];
    bench.settle().await;
    assert_eq!(bench.state("/SLM-L1/state")["readers"]["R1"], "faulted");
    let alerts = bench.alerts();
    assert_eq!(alerts.iter().filter(|a| *a == "actor_isolated").count(), 1);

    assert_eq!(
        rows_of(&bench, decided),
        [(Decision::Denied, "nothing_to_return".to_owned())]
    );
    for event in waiting {
        let denied = (Decision::Denied, "reader_failed".to_owned());
        assert_eq!(rows_of(&bench, event), [denied], "scan {event}");
        let shown = (false, "reader_failed".to_owned());
        assert_eq!(shown_for(&bench, event), [shown], "scan {event}");
    }
    assert_eq!(reader_failed_activity(&bench), 2);
    assert_eq!(reader_failed_count(&counted, "cew"), 2);

    // Isolated now: a scan at R1 is denied as device_isolated; R2 serves.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["reason"], "device_isolated");
    assert_eq!(bench.unlocks(), 0);
    let outcome = bench.scan("R2", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], true, "{outcome}");

    // A service record at the isolated R1 is refused, audited and shown.
    let record = bench.queue(reader_topic("R1"), service_release("LL-01003"));
    bench.settle().await;
    let refused = (
        AuditAction::Anomaly,
        Decision::Denied,
        "device_isolated".to_owned(),
    );
    assert_eq!(panel_rows_of(&bench, record), [refused]);
    assert_eq!(
        shown_for(&bench, record),
        [(false, "device_isolated".to_owned())]
    );
    assert!(bench.audited(AuditAction::Service).is_empty());

    // The technician's clear brings R1 back; nothing waits there now.
    bench
        .scan("R2", SUPERVISOR_BADGE, AccessRequest::Acknowledge)
        .await;
    bench.send(reader_topic("R1"), DeviceEvent::Heartbeat).await;
    let again = bench.scan("R1", OTHER_OFFICER, sign_out()).await;
    assert_eq!(again["granted"], true, "{again}");
    assert_eq!(reader_failed_activity(&bench), 2);
    assert_eq!(bench.decided(Decision::Granted), bench.unlocks());
}

#[tokio::test(start_paused = true)]
async fn panel_events_waiting_at_a_failed_reader_are_each_refused_once() {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start().await;
    bench.beat().await;

    // The officer draws the least used TASER and takes it.
    let out = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(out["compartment"], 1, "{out}");
    bench.door_cycle(1, false).await;

    // Rounds reported before the failure (the reader asks the locker for
    // the weapon, so the rest is routed first); a problem report about
    // the weapon and an armorer's release of another wait behind it.
    let rounds = bench.queue(reader_topic("R1"), rounds_report("LL-01001", 2));
    drill(&bench, "R1", DrillFault::Panic);
    let report = bench.queue(reader_topic("R1"), problem_report("LL-01001"));
    let record = bench.queue(reader_topic("R1"), service_release("LL-01003"));
    bench.settle().await;
    assert!(bench.alerts().contains(&"actor_restarted".to_owned()));

    // Decided before the failure: its own row (by its event id) and
    // outcome, and no refusal.
    let recorded = (
        AuditAction::Deployment,
        Decision::Recorded,
        "rounds_deployed".to_owned(),
    );
    assert_eq!(panel_rows_of(&bench, rounds), [recorded]);
    assert_eq!(
        shown_for(&bench, rounds),
        [(false, "report_recorded".to_owned())]
    );

    // Left undecided: refused as reader_failed, once each, and shown.
    for event in [report, record] {
        let refused = (
            AuditAction::Anomaly,
            Decision::Denied,
            "reader_failed".to_owned(),
        );
        assert_eq!(panel_rows_of(&bench, event), [refused], "event {event}");
        let shown = (false, "reader_failed".to_owned());
        assert_eq!(shown_for(&bench, event), [shown], "event {event}");
    }
    assert_eq!(anomalies(&bench, "reader_failed"), 2);
    let labels = [("reason", "reader_failed")];
    assert_eq!(counted.value("armory_anomalies_total", &labels), 2);

    // Neither changed its weapon: not quarantined, not serviced.
    assert!(bench.audited(AuditAction::ProblemReport).is_empty());
    assert!(bench.audited(AuditAction::Service).is_empty());
    assert!(!bench.alerts().contains(&"weapon_quarantined".to_owned()));
    let held = bench.state("/state/weapon/LL-01001");
    assert_eq!(held["service_status"], "in_service", "{held}");
    let other = bench.state("/state/weapon/LL-01003");
    assert_eq!(other["sign_outs_since_service"], 3, "{other}");

    // The officer reports again at the restarted R1, under a new event
    // id: recorded by that id, and the weapon is quarantined.
    bench
        .send(reader_topic("R1"), problem_report("LL-01001"))
        .await;
    let last = bench.outcomes("R1").pop().unwrap_or_default();
    assert_eq!(last["reason"], "report_recorded", "{last}");
    let again = last["scan"].as_str().unwrap_or_default().parse::<Uuid>();
    let again = again.expect("the outcome names its event");
    assert_ne!(again, report);
    let quarantined = (
        AuditAction::ProblemReport,
        Decision::Recorded,
        "damaged".to_owned(),
    );
    assert_eq!(panel_rows_of(&bench, again), [quarantined]);
    let held = bench.state("/state/weapon/LL-01001");
    assert_eq!(held["service_status"], "quarantined", "{held}");
    let alerts = bench.alerts();
    assert_eq!(
        alerts.iter().filter(|a| *a == "weapon_quarantined").count(),
        1
    );

    // The armorer's record again: serviced, by its own event id.
    bench
        .send(reader_topic("R1"), service_release("LL-01003"))
        .await;
    assert_eq!(bench.audited(AuditAction::Service), ["released"]);
    let other = bench.state("/state/weapon/LL-01003");
    assert_eq!(other["sign_outs_since_service"], 0, "{other}");
    assert_eq!(anomalies(&bench, "reader_failed"), 2);
    assert_eq!(bench.unlocks(), 1);
}
