//! The service policy on a whole locker under tokio's paused clock: what
//! `[maintenance] when_due` does to the choice of weapon (`block`: a due
//! weapon is passed over for the next least used, and with none left the
//! sign-out is denied; `warn`: it is still issued), and what retiring a
//! weapon at its service release does (never issued again, published as
//! retired, audited).
//!
//! The bench's three TASERs sit in compartments 1 to 3 with 1, 2 and 3
//! sign-outs since service.

#[path = "support/bench.rs"]
mod bench;

use armory_actors::domain::{AssetTag, WeaponClass};
use armory_actors::maintenance::{MaintenancePolicy, ServiceRule, WhenDue};
use armory_actors::ports::AuditAction;
use armory_actors::protocol::{AccessRequest, DeviceEvent};
use bench::{reader_topic, sign_out, Bench, ARMORER_BADGE, OFFICER_BADGE, SUPERVISOR_BADGE};
use serde_json::Value;

const OTHER_OFFICER: &str = "0C0C0C0C";

/// TASERs due after 3 sign-outs or 5 cartridges, whichever first.
fn policy(when_due: WhenDue) -> MaintenancePolicy {
    let mut policy = MaintenancePolicy::default();
    let rule = ServiceRule {
        sign_outs: 3,
        deployments: 5,
        when_due,
        ..ServiceRule::default()
    };
    policy.classes.insert(WeaponClass::Cew, rule);
    policy
}

/// A sign-out by `badge`: the compartment that opened (after its door
/// cycled), or the reason it was denied.
async fn draw(bench: &mut Bench, badge: &str) -> Result<u16, String> {
    let outcome = bench.scan("R1", badge, sign_out()).await;
    opened(bench, &outcome, false).await
}

/// A return by `badge`, door cycled with the weapon back in.
async fn give_back(bench: &mut Bench, badge: &str) -> u16 {
    let outcome = bench.scan("R1", badge, AccessRequest::Return).await;
    opened(bench, &outcome, true)
        .await
        .expect("the return is granted")
}

async fn opened(bench: &mut Bench, outcome: &Value, present: bool) -> Result<u16, String> {
    if outcome["granted"] != true {
        return Err(outcome["reason"].as_str().unwrap_or_default().to_owned());
    }
    let compartment = outcome["compartment"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .expect("a grant names its compartment");
    bench.door_cycle(compartment, present).await;
    Ok(compartment)
}

/// The officer reports five cartridges fired with the weapon just returned.
async fn report_deployments(bench: &mut Bench, asset_tag: &str) {
    let report = DeviceEvent::PanelReport {
        badge_uid: OFFICER_BADGE.into(),
        asset_tag: AssetTag::from(asset_tag),
        deployments: Some(5),
        problem: None,
    };
    bench.send(reader_topic("R1"), report).await;
}

#[tokio::test(start_paused = true)]
async fn block_passes_a_due_weapon_over_and_denies_when_none_is_left() {
    let mut bench = Bench::start_with(policy(WhenDue::Block)).await;

    // The least used TASER comes back having fired five cartridges: due.
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(1));
    give_back(&mut bench, OFFICER_BADGE).await;
    report_deployments(&mut bench, "LL-01001").await;
    assert_eq!(
        bench.audited(AuditAction::ServiceDue),
        ["due_by_deployments"]
    );

    // Still the least used, but due: the next least used is issued, and
    // that sign-out is its third, so it is due too.
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(2));
    give_back(&mut bench, OFFICER_BADGE).await;
    assert_eq!(
        bench.audited(AuditAction::ServiceDue),
        ["due_by_deployments", "due_by_sign_outs"]
    );

    // The last has had three sign-outs since service already, so it is
    // due by its counters although no check has flagged it yet: nothing
    // is left to issue.
    assert_eq!(
        draw(&mut bench, OFFICER_BADGE).await,
        Err("no_weapon_available".to_owned())
    );
    assert_eq!(bench.alerts(), ["service_due", "service_due"]);
    assert_eq!(bench.unlocks(), 4);
}

#[tokio::test(start_paused = true)]
async fn warn_still_issues_a_due_weapon_and_alerts_once() {
    let mut bench = Bench::start_with(policy(WhenDue::Warn)).await;

    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(1));
    give_back(&mut bench, OFFICER_BADGE).await;
    report_deployments(&mut bench, "LL-01001").await;
    assert_eq!(
        bench.audited(AuditAction::ServiceDue),
        ["due_by_deployments"]
    );

    // Due, and still the least used: issued again, with no second alert.
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(1));
    give_back(&mut bench, OFFICER_BADGE).await;
    assert_eq!(bench.alerts(), ["service_due"]);

    // Then the least used is the second, whose third sign-out makes it
    // due; then, all three at three sign-outs, the first again.
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(2));
    give_back(&mut bench, OFFICER_BADGE).await;
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(1));
    assert_eq!(
        bench.audited(AuditAction::ServiceDue),
        ["due_by_deployments", "due_by_sign_outs"]
    );
    assert_eq!(bench.alerts(), ["service_due", "service_due"]);
}

#[tokio::test(start_paused = true)]
async fn a_weapon_retired_at_service_is_never_issued_again() {
    let mut bench = Bench::start().await;

    // The armorer opens compartment 3 for service and retires its TASER.
    let service = AccessRequest::Service { compartment: 3 };
    let outcome = bench.scan("R2", ARMORER_BADGE, service).await;
    assert_eq!(outcome["granted"], true, "{outcome}");
    bench.door_cycle(3, true).await;
    let record = DeviceEvent::ServiceRecord {
        badge_uid: ARMORER_BADGE.into(),
        asset_tag: AssetTag::from("LL-01003"),
        work: vec!["inspection".into()],
        function_test_passed: false,
        outcome: "retire".into(),
        notes: Some("frame cracked beyond repair".into()),
    };
    bench.send(reader_topic("R2"), record).await;

    // Audited, and published as retired with its counters reset.
    assert_eq!(bench.audited(AuditAction::Service), ["granted", "retired"]);
    let state = bench.state("/state/weapon/LL-01003");
    assert_eq!(state["service_status"], "retired", "{state}");
    assert_eq!(state["condition"], "unavailable", "{state}");
    assert_eq!(state["sign_outs_since_service"], 0, "{state}");

    // The other two go out; the retired one, now the least used, never.
    assert_eq!(draw(&mut bench, OFFICER_BADGE).await, Ok(1));
    assert_eq!(draw(&mut bench, OTHER_OFFICER).await, Ok(2));
    assert_eq!(
        draw(&mut bench, SUPERVISOR_BADGE).await,
        Err("no_weapon_available".to_owned())
    );
    give_back(&mut bench, OFFICER_BADGE).await;
    assert_eq!(draw(&mut bench, SUPERVISOR_BADGE).await, Ok(1));
    assert_eq!(
        bench.state("/state/weapon/LL-01003")["service_status"],
        "retired"
    );
}
