//! End to end: every kind of denial is audited with its reason and opens
//! nothing, on the demo agency with the clock fixed at the data's instant.

#[path = "support/harness.rs"]
mod harness;

use armory::store::AuditFilter;
use armory_actors::domain::{BadgeUid, LockerId, Person, PersonStatus, ServiceStatus, WeaponClass};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use harness::TestArmory;
use jiff::SignedDuration;

/// Scans at SLM-L1 R1 (badge and PIN) and returns the reason shown.
async fn sign_out_at_slm(
    armory: &TestArmory,
    badge: &BadgeUid,
    pin: &str,
    class: WeaponClass,
) -> String {
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L1"),
            &TestArmory::reader("R1"),
            badge,
            Some(pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("scan answered");
    outcome.reason().expect("an outcome was shown").to_owned()
}

/// The single audit row of a denied scan, checked for its shape.
fn only_denial(armory: &TestArmory, reason: &str) -> armory_actors::ports::AuditEntry {
    let rows = armory.all_audit();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let entry = rows[0].entry.clone();
    assert_eq!(entry.action, AuditAction::SignOutRequest);
    assert_eq!(entry.decision, Decision::Denied);
    assert_eq!(entry.reason, reason);
    assert_eq!(entry.asset_tag, None);
    assert_eq!(entry.compartment, None);
    assert!(entry.event_id.is_some());
    assert!(
        armory.unlock_commands().is_empty(),
        "a denial sent an unlock"
    );
    entry
}

fn cew_at_slm() -> WeaponClass {
    WeaponClass::Cew
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_badge_is_denied() {
    let armory = TestArmory::start().await;
    let stranger = BadgeUid::parse("00C0FFEE").expect("valid badge");
    assert!(armory.agency.personnel.by_badge(&stranger).is_none());

    let reason = sign_out_at_slm(&armory, &stranger, "123456", cew_at_slm()).await;
    assert_eq!(reason, "unknown_badge");
    let entry = only_denial(&armory, "unknown_badge");
    assert_eq!(entry.badge, Some(stranger));
    assert_eq!(entry.employee_id, None);
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_is_denied() {
    let armory = TestArmory::start().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let wrong = if pin == "000000" { "111111" } else { "000000" };

    let reason = sign_out_at_slm(&armory, &officer.badge, wrong, class).await;
    assert_eq!(reason, "wrong_pin");
    let entry = only_denial(&armory, "wrong_pin");
    assert_eq!(
        entry.employee_id, None,
        "an unproven identity is not resolved"
    );
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_person_is_denied() {
    let armory = TestArmory::start().await;
    let suspended: Person = armory
        .agency
        .personnel
        .people
        .values()
        .find(|p| {
            p.status == PersonStatus::Suspended
                && armory.agency.pins.iter().any(|(e, _)| *e == p.employee_id)
        })
        .cloned()
        .expect("the demo roster has a suspended person with a PIN");
    let pin = armory.pin_of(&suspended);

    let reason = sign_out_at_slm(&armory, &suspended.badge, &pin, cew_at_slm()).await;
    assert_eq!(reason, "person_suspended");
    let entry = only_denial(&armory, "person_suspended");
    assert_eq!(entry.employee_id, Some(suspended.employee_id));
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certification_expired_one_second_ago_is_denied() {
    let armory = TestArmory::start().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let last_valid = armory
        .agency
        .personnel
        .certifications_of(&officer.employee_id)
        .iter()
        .filter(|c| c.class == class)
        .map(|c| c.expires_at)
        .max()
        .expect("the officer is certified");
    armory.clock.set(last_valid + SignedDuration::from_secs(1));

    let reason = sign_out_at_slm(&armory, &officer.badge, &pin, class).await;
    assert_eq!(reason, "certification_expired");
    let entry = only_denial(&armory, "certification_expired");
    assert_eq!(entry.weapon_class, Some(class));
    assert_eq!(entry.employee_id, Some(officer.employee_id));
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certification_for_the_class_is_denied() {
    let armory = TestArmory::start().await;
    let (officer, class) = armory
        .agency
        .personnel
        .people
        .values()
        .filter(|p| p.status == PersonStatus::Active)
        .filter(|p| armory.agency.pins.iter().any(|(e, _)| *e == p.employee_id))
        .find_map(|p| {
            let certs = armory.agency.personnel.certifications_of(&p.employee_id);
            WeaponClass::ALL
                .iter()
                .find(|class| certs.iter().all(|c| c.class != **class))
                .map(|class| (p.clone(), *class))
        })
        .expect("someone lacks a class");
    let pin = armory.pin_of(&officer);

    let reason = sign_out_at_slm(&armory, &officer.badge, &pin, class).await;
    assert_eq!(reason, "not_certified");
    only_denial(&armory, "not_certified");
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_serviceable_weapon_left_is_denied() {
    let armory = TestArmory::start().await;

    // A class at SLM-L1 that some officer may draw, and its weapons there.
    let locker = LockerId::from("SLM-L1");
    let in_locker: Vec<_> = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.status == ServiceStatus::InService)
        .collect();
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let serviceable = in_locker.iter().filter(|w| w.class == class).count();

    // Take every one of them, each by a different certified officer.
    let mut takers: Vec<Person> = Vec::new();
    for _ in 0..serviceable {
        let (taker, taker_class, taker_pin) = armory.officer_for_class("SLM-L1", class, &takers);
        assert_eq!(taker_class, class);
        let reason = sign_out_at_slm(&armory, &taker.badge, &taker_pin, class).await;
        assert_eq!(reason, "granted");
        takers.push(taker);
        armory.wait_activity("signed_out", takers.len()).await;
    }
    let unlocks_before = armory.unlock_commands().len();
    assert_eq!(unlocks_before, serviceable);

    let reason = sign_out_at_slm(&armory, &officer.badge, &pin, class).await;
    assert_eq!(reason, "no_weapon_available");
    let denied = armory.audit(&AuditFilter {
        decision: Some(Decision::Denied),
        ..AuditFilter::default()
    });
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].entry.reason, "no_weapon_available");
    assert_eq!(armory.unlock_commands().len(), unlocks_before);
    armory.stop().await;
}
