//! A whole locker under tokio's paused clock: a TASER signed out goes
//! overdue, escalates to supervisors, and clears on return. Each of the
//! three alerts appears once on the bus, once in the metrics and once in
//! the audit trail, although the door events that began and ended the
//! sign-out are each delivered twice (QoS 1 after a lost acknowledgement),
//! once at once and once again later.

#[path = "support/bench.rs"]
mod bench;
#[path = "support/counted.rs"]
mod counted;

use std::time::Duration;

use tokio::time::Instant;

use armory_actors::domain::WeaponClass;
use armory_actors::maintenance::{MaintenancePolicy, ServiceRule};
use armory_actors::ports::AuditAction;
use armory_actors::protocol::{AccessRequest, DeviceEvent};
use bench::{compartment_topic, sign_out, Bench, OFFICER_BADGE};
use counted::Counted;

const HOUR: Duration = Duration::from_secs(3600);

/// TASERs are expected back within an hour and escalate an hour later.
fn hourly() -> MaintenancePolicy {
    let mut policy = MaintenancePolicy::default();
    let rule = ServiceRule {
        expected_return_hours: 1,
        escalate_after_hours: 1,
        ..ServiceRule::default()
    };
    policy.classes.insert(WeaponClass::Cew, rule);
    policy
}

/// Lets time pass until `until` (and a few milliseconds for the actors
/// to act), with the heartbeats of the controller and its readers every
/// 10 s so the locker stays online the whole time.
async fn pass_online(bench: &mut Bench, until: Instant) {
    let beat = Duration::from_secs(10);
    while Instant::now() < until {
        bench.beat().await;
        tokio::time::sleep_until(until.min(Instant::now() + beat)).await;
    }
    bench.settle().await;
}

fn alerted(counted: &Counted, kind: &str) -> u64 {
    counted.value("armory_alerts_total", &[("kind", kind)])
}

#[tokio::test(start_paused = true)]
async fn overdue_escalated_and_cleared_each_appear_once_despite_redelivery() {
    let counted = Counted::default();
    let _recording = counted.install();
    let mut bench = Bench::start_with(hourly()).await;

    // Out: the scan, then the door cycle; its events delivered twice.
    let outcome = bench.scan("R1", OFFICER_BADGE, sign_out()).await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    let compartment = outcome["compartment"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .expect("the grant names its compartment");
    let topic = compartment_topic(compartment);
    let opened = bench
        .send_sealed(topic.clone(), DeviceEvent::DoorOpened)
        .await;
    let left = DeviceEvent::DoorClosed {
        weapon_present: false,
    };
    let closed = bench.send_sealed(topic.clone(), left).await;
    let out_at = Instant::now();
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    let duplicates = counted.value("armory_device_events_duplicate_total", &[]);
    bench.redeliver(&topic, opened.clone()).await;
    bench.redeliver(&topic, closed.clone()).await;
    assert_eq!(
        counted.value("armory_device_events_duplicate_total", &[]),
        duplicates + 2,
        "both copies were recognised"
    );

    // A second short of the hour: nothing yet.
    pass_online(&mut bench, out_at + HOUR - Duration::from_secs(1)).await;
    assert!(bench.alerts().is_empty(), "{:?}", bench.alerts());
    pass_online(&mut bench, out_at + HOUR).await;
    assert_eq!(bench.alerts(), ["weapon_overdue"]);
    assert_eq!(alerted(&counted, "weapon_overdue"), 1);

    // The sign-out's door events arrive yet again while it is late: the
    // weapon does not leave twice and is not late twice.
    bench.redeliver(&topic, closed.clone()).await;
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    pass_online(&mut bench, out_at + 2 * HOUR - Duration::from_secs(1)).await;
    assert_eq!(bench.alerts(), ["weapon_overdue"]);
    pass_online(&mut bench, out_at + 2 * HOUR).await;
    assert_eq!(
        bench.alerts(),
        ["weapon_overdue", "weapon_overdue_escalated"]
    );
    pass_online(&mut bench, out_at + 4 * HOUR).await;
    assert_eq!(bench.alerts().len(), 2, "escalated once");

    // Back: the return's door close, delivered twice, clears it once.
    let back = bench.scan("R1", OFFICER_BADGE, AccessRequest::Return).await;
    assert_eq!(back["granted"], true, "{back}");
    assert_eq!(back["compartment"], u64::from(compartment));
    bench.send(topic.clone(), DeviceEvent::DoorOpened).await;
    let home = DeviceEvent::DoorClosed {
        weapon_present: true,
    };
    let returned = bench.send_sealed(topic.clone(), home).await;
    bench.redeliver(&topic, returned).await;
    bench.redeliver(&topic, closed).await;
    pass_online(&mut bench, out_at + 6 * HOUR).await;

    assert_eq!(
        bench.alerts(),
        [
            "weapon_overdue",
            "weapon_overdue_escalated",
            "weapon_overdue_cleared"
        ]
    );
    assert_eq!(
        bench.audited(AuditAction::Overdue),
        [
            "weapon_overdue",
            "weapon_overdue_escalated",
            "weapon_overdue_cleared"
        ]
    );
    for kind in [
        "weapon_overdue",
        "weapon_overdue_escalated",
        "weapon_overdue_cleared",
    ] {
        assert_eq!(alerted(&counted, kind), 1, "{kind}");
    }
    assert_eq!(bench.audited(AuditAction::SignedOut).len(), 1);
    assert_eq!(bench.audited(AuditAction::Returned).len(), 1);
    assert_eq!(bench.unlocks(), 2);
}
