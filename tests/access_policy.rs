//! End to end: the access policy of the configuration. Lockouts after
//! repeated wrong PINs (cleared by time or by a supervisor), dual
//! authorization for patrol rifles, roles and sites per class, the second
//! factor a locker requires, and certification expiry at the exact second.

#[path = "support/harness.rs"]
mod harness;

use armory::store::AuditFilter;
use armory_actors::clock::Clock;
use armory_actors::domain::{
    BadgeUid, LockerId, Person, PersonStatus, ReaderId, Role, WeaponClass,
};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use armory_device_sim::ScanOutcome;
use harness::{TestArmory, DATA_NOW};
use jiff::{SignedDuration, Timestamp};

async fn start(access: &str) -> TestArmory {
    let now: Timestamp = DATA_NOW.parse().expect("valid instant");
    TestArmory::start_with(Clock::manual(now), access).await
}

async fn scan(
    armory: &TestArmory,
    locker: &str,
    reader: &str,
    badge: &BadgeUid,
    pin: &str,
    request: AccessRequest,
) -> ScanOutcome {
    armory
        .sim
        .scan(
            &LockerId::from(locker),
            &ReaderId::from(reader),
            badge,
            Some(pin),
            request,
        )
        .await
        .expect("answered")
}

fn sign_out(class: WeaponClass) -> AccessRequest {
    AccessRequest::SignOut {
        weapon_class: class,
    }
}

/// An active person of `role` at `site` with a PIN.
fn someone(armory: &TestArmory, role: Role, site: &str) -> (Person, String) {
    let person = armory
        .agency
        .personnel
        .people
        .values()
        .find(|p| {
            p.role == role
                && p.status == PersonStatus::Active
                && p.home_site.as_str() == site
                && armory.agency.pins.iter().any(|(e, _)| *e == p.employee_id)
        })
        .cloned()
        .expect("the demo roster has one");
    let pin = armory.pin_of(&person);
    (person, pin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_lock_a_badge_out_until_time_or_a_supervisor_clears_it() {
    let access =
        "[access]\nlockout_attempts = 3\nlockout_window_seconds = 300\nlockout_seconds = 900";
    let armory = start(access).await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let wrong = if pin == "000000" { "111111" } else { "000000" };

    for _ in 0..3 {
        let outcome = scan(
            &armory,
            "SLM-L1",
            "R1",
            &officer.badge,
            wrong,
            sign_out(class),
        )
        .await;
        assert_eq!(outcome.reason(), Some("wrong_pin"));
    }
    // Locked out: even the right PIN is refused, and nothing opens.
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        sign_out(class),
    )
    .await;
    assert_eq!(outcome.reason(), Some("badge_locked_out"));
    assert!(armory.unlock_commands().is_empty());

    // The lockout is audited and alerted, with the badge only as a
    // fingerprint on the bus.
    let lockouts: Vec<_> = armory
        .all_audit()
        .into_iter()
        .filter(|r| r.entry.action == AuditAction::Lockout)
        .collect();
    assert_eq!(lockouts.len(), 1);
    assert_eq!(lockouts[0].entry.badge.as_ref(), Some(&officer.badge));
    armory
        .observer
        .wait_until("the lockout alert", |seen| {
            seen.iter().any(|s| {
                s.topic == "armory/v1/SLM/SLM-L1/alert" && s.json()["kind"] == "badge_locked_out"
            })
        })
        .await;
    let alerts = armory.observer.matching(|s| s.topic.ends_with("/alert"));
    assert!(alerts
        .iter()
        .all(|s| !String::from_utf8_lossy(&s.payload).contains(officer.badge.reveal())));

    // Another locker is not affected.
    let elsewhere = scan(
        &armory,
        "SLM-L3",
        "R1",
        &officer.badge,
        &pin,
        sign_out(class),
    )
    .await;
    assert_ne!(elsewhere.reason(), Some("badge_locked_out"));

    // An officer may not clear lockouts; a supervisor may.
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        AccessRequest::ClearLockouts,
    )
    .await;
    assert_eq!(outcome.reason(), Some("badge_locked_out"));
    let (colleague, colleague_pin) = someone(&armory, Role::Officer, "PDX");
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &colleague.badge,
        &colleague_pin,
        AccessRequest::ClearLockouts,
    )
    .await;
    assert_eq!(outcome.reason(), Some("role_not_permitted"));
    let (supervisor, supervisor_pin) = someone(&armory, Role::Supervisor, "SLM");
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &supervisor.badge,
        &supervisor_pin,
        AccessRequest::ClearLockouts,
    )
    .await;
    assert_eq!(outcome.reason(), Some("lockouts_cleared"));
    assert!(!outcome.granted());
    let cleared = armory.audit(&AuditFilter {
        employee_id: Some(supervisor.employee_id.clone()),
        ..AuditFilter::default()
    });
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].entry.action, AuditAction::LockoutCleared);

    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        sign_out(class),
    )
    .await;
    assert!(outcome.granted(), "{:?}", outcome.answer);

    // Locked out again, the lockout ends by itself after its period.
    let (other, other_class, other_pin) =
        armory.officer_for("SLM-L1", std::slice::from_ref(&officer));
    for _ in 0..3 {
        scan(
            &armory,
            "SLM-L1",
            "R1",
            &other.badge,
            wrong,
            sign_out(other_class),
        )
        .await;
    }
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &other.badge,
        &other_pin,
        sign_out(other_class),
    )
    .await;
    assert_eq!(outcome.reason(), Some("badge_locked_out"));
    armory.clock.advance(SignedDuration::from_secs(900));
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &other.badge,
        &other_pin,
        sign_out(other_class),
    )
    .await;
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patrol_rifles_need_a_second_person() {
    let access = r#"
[access.classes.patrol_rifle]
roles = ["officer", "supervisor"]
dual_authorization = { roles = ["supervisor"], window_seconds = 2 }
"#;
    let armory = start(access).await;
    let rifle = WeaponClass::PatrolRifle;
    let (officer, _, pin) = armory.officer_for_class("SLM-L1", rifle, &[]);
    let (supervisor, supervisor_pin) = someone(&armory, Role::Supervisor, "SLM");

    // The first person is recorded and waits; nothing opens.
    let first = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        sign_out(rifle),
    )
    .await;
    assert_eq!(first.reason(), Some("awaiting_second_person"));
    assert!(armory.unlock_commands().is_empty());

    // The same person cannot be their own second; an officer cannot be it.
    let same = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        AccessRequest::Authorize,
    )
    .await;
    assert_eq!(same.reason(), Some("second_person_same"));
    let (colleague, colleague_pin) = someone(&armory, Role::Officer, "PDX");
    let colleague_try = scan(
        &armory,
        "SLM-L1",
        "R1",
        &colleague.badge,
        &colleague_pin,
        AccessRequest::Authorize,
    )
    .await;
    assert_eq!(colleague_try.reason(), Some("second_person_not_permitted"));

    // A supervisor authorizes: the compartment opens for the officer.
    let second = scan(
        &armory,
        "SLM-L1",
        "R1",
        &supervisor.badge,
        &supervisor_pin,
        AccessRequest::Authorize,
    )
    .await;
    assert!(second.granted(), "{:?}", second.answer);
    armory.wait_activity("signed_out", 1).await;
    let stored_holder = armory
        .all_audit()
        .into_iter()
        .find(|r| r.entry.action == AuditAction::SignedOut)
        .and_then(|r| r.entry.employee_id);
    assert_eq!(stored_holder, Some(officer.employee_id.clone()));

    // One granted row, in the officer's name, per unlock; the supervisor's
    // scan is its own row.
    let rows = armory.all_audit();
    let granted: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.decision == Decision::Granted)
        .collect();
    assert_eq!(granted.len(), 1);
    assert_eq!(
        granted[0].entry.employee_id,
        Some(officer.employee_id.clone())
    );
    assert_eq!(armory.unlock_commands().len(), 1);
    assert!(rows
        .iter()
        .any(|r| r.entry.action == AuditAction::DualAuthorization
            && r.entry.employee_id == Some(supervisor.employee_id.clone())
            && r.entry.reason == "second_person_authorized"));

    // A request nobody authorizes lapses after its window, audited.
    let (late, _, late_pin) =
        armory.officer_for_class("SLM-L1", rifle, std::slice::from_ref(&officer));
    let waiting = scan(
        &armory,
        "SLM-L1",
        "R1",
        &late.badge,
        &late_pin,
        sign_out(rifle),
    )
    .await;
    assert_eq!(waiting.reason(), Some("awaiting_second_person"));
    armory.wait_activity("dual_authorization_expired", 1).await;
    let after = scan(
        &armory,
        "SLM-L1",
        "R1",
        &supervisor.badge,
        &supervisor_pin,
        AccessRequest::Authorize,
    )
    .await;
    assert_eq!(after.reason(), Some("nothing_to_authorize"));
    assert_eq!(armory.unlock_commands().len(), 1);
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_sites_and_factors_follow_the_configuration() {
    let access = r#"
[access.lockers.SLM-L2]
second_factor = "pin"
[access.classes.launcher_40mm]
roles = ["supervisor"]
[access.classes.pepperball]
sites = ["PDX"]
"#;
    let armory = start(access).await;

    let (grenadier, _, pin) = armory.officer_for_class("SLM-L1", WeaponClass::Launcher40mm, &[]);
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &grenadier.badge,
        &pin,
        sign_out(WeaponClass::Launcher40mm),
    )
    .await;
    assert_eq!(outcome.reason(), Some("role_not_permitted"));

    let (pepper, _, pin) = armory.officer_for_class("SLM-L1", WeaponClass::Pepperball, &[]);
    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &pepper.badge,
        &pin,
        sign_out(WeaponClass::Pepperball),
    )
    .await;
    assert_eq!(outcome.reason(), Some("site_not_permitted"));

    // SLM-L2 requires a PIN: its fingerprint reader refuses everyone.
    let (officer, class, _) = armory.officer_for("SLM-L2", &[]);
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L2"),
            &ReaderId::from("R2"),
            &officer.badge,
            None,
            sign_out(class),
        )
        .await
        .expect("answered");
    assert_eq!(outcome.reason(), Some("missing_factor"));

    assert!(armory.unlock_commands().is_empty());
    let denied = armory.audit(&AuditFilter {
        decision: Some(Decision::Denied),
        ..AuditFilter::default()
    });
    assert_eq!(denied.len(), 3);
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certification_is_valid_through_its_last_second() {
    let armory = start("").await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let last_valid = armory
        .agency
        .personnel
        .certifications_of(&officer.employee_id)
        .iter()
        .filter(|c| c.class == class)
        .map(|c| c.expires_at)
        .max()
        .expect("certified");
    armory.clock.set(last_valid);

    let outcome = scan(
        &armory,
        "SLM-L1",
        "R1",
        &officer.badge,
        &pin,
        sign_out(class),
    )
    .await;
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sites_and_lockers_in_access_stop_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = harness::TestSettings {
        extra: "[access.classes.cew]\nsites = [\"NOPE\"]\n\
                [access.lockers.NOPE-L9]\nsecond_factor = \"pin\"",
        ..harness::TestSettings::default()
    };
    let path = harness::write_config_file(dir.path(), &settings);
    let config = armory::config::Config::load(&path).expect("the file's own checks pass");
    let now: Timestamp = DATA_NOW.parse().expect("valid instant");

    let error = match armory::serve::Service::start(&config, Clock::manual(now)).await {
        Ok(_) => panic!("a service started on a configuration naming unknown ids"),
        Err(error) => format!("{error:#}"),
    };
    let file = path.display();
    let cew = format!("{file}: access.classes.cew.sites: no site NOPE in the armory (sites: ");
    let locker = format!("{file}: access.lockers.NOPE-L9: no locker NOPE-L9 in the armory");
    assert!(error.contains(&cew), "{error}");
    assert!(error.contains(&locker), "{error}");
    // The known ids follow, as the store has them.
    assert!(error.contains("(sites: ALB, AST, BKR, "), "{error}");
    assert!(
        error.contains("(lockers: ") && error.contains("SLM-L1"),
        "{error}"
    );
}
