//! The access rules, one test per reason.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::{EmployeeId, Role, SiteId};
use crate::policy::ClassRule;

const CHEAP: PinHashCost = PinHashCost {
    memory_kib: 64,
    iterations: 1,
};

fn officer(status: PersonStatus) -> Person {
    Person {
        employee_id: EmployeeId::from("E1"),
        last_name: "Petersen".into(),
        first_name: "Grace".into(),
        rank: "Trooper".into(),
        role: Role::Officer,
        home_site: SiteId::from("SLM"),
        status,
        badge: BadgeUid::parse("618C664A").expect("valid"),
        hire_date: "2014-02-17".parse().expect("valid date"),
    }
}

fn cert(class: WeaponClass, expires_at: &str) -> Certification {
    Certification {
        employee_id: EmployeeId::from("E1"),
        course_code: "LL-CEW-RECERT".into(),
        class,
        completed_on: "2025-10-31".parse().expect("valid date"),
        expires_at: expires_at.parse().expect("valid instant"),
        instructor: EmployeeId::from("E2"),
    }
}

fn personnel_with_pin(pin: &str) -> Personnel {
    let mut personnel = Personnel::default();
    let person = officer(PersonStatus::Active);
    let hash = hash_pin(pin, CHEAP).expect("valid PIN");
    personnel
        .pin_hashes
        .insert(person.employee_id.clone(), hash);
    personnel.people.insert(person.employee_id.clone(), person);
    personnel
}

fn credentials(badge: &str, pin: Option<&str>) -> Credentials {
    Credentials {
        badge: BadgeUid::parse(badge).expect("valid"),
        pin: pin.map(str::to_owned),
        fingerprint_match: None,
    }
}

#[test]
fn identity_needs_a_known_badge_and_its_pin() {
    let personnel = personnel_with_pin("963737");
    let reader = ReaderKind::BadgePin;

    let ok = identify(&personnel, reader, &credentials("618c664a", Some("963737")));
    assert_eq!(ok.map(|p| p.employee_id.as_str()), Ok("E1"));

    let wrong = identify(&personnel, reader, &credentials("618C664A", Some("000000")));
    assert_eq!(wrong.map(|_| ()), Err(Reason::WrongPin));

    let unknown = identify(&personnel, reader, &credentials("DEADBEEF", Some("963737")));
    assert_eq!(unknown.map(|_| ()), Err(Reason::UnknownBadge));

    let no_pin = identify(&personnel, reader, &credentials("618C664A", None));
    assert_eq!(no_pin.map(|_| ()), Err(Reason::MissingFactor));
}

#[test]
fn fingerprint_readers_need_a_match() {
    let personnel = personnel_with_pin("963737");
    let mut presented = credentials("618C664A", None);
    let reader = ReaderKind::BadgeFingerprint;

    presented.fingerprint_match = Some(true);
    assert!(identify(&personnel, reader, &presented).is_ok());
    presented.fingerprint_match = Some(false);
    let mismatch = identify(&personnel, reader, &presented).map(|_| ());
    assert_eq!(mismatch, Err(Reason::BiometricMismatch));
}

#[test]
fn expiry_is_exact_to_the_second() {
    let person = officer(PersonStatus::Active);
    let certs = [cert(WeaponClass::Cew, "2026-12-03T13:59:59Z")];
    let last_valid: Timestamp = "2026-12-03T13:59:59Z".parse().expect("valid instant");
    let one_after = last_valid + SignedDuration::from_secs(1);

    assert_eq!(
        may_draw(&person, &certs, draw(WeaponClass::Cew, last_valid)),
        Ok(())
    );
    assert_eq!(
        may_draw(&person, &certs, draw(WeaponClass::Cew, one_after)),
        Err(Reason::CertificationExpired)
    );
}

#[test]
fn class_status_and_renewal_are_each_checked() {
    let now: Timestamp = "2026-12-03T14:00:00Z".parse().expect("valid instant");
    let certs = [
        cert(WeaponClass::Cew, "2025-12-03T23:59:59Z"),
        cert(WeaponClass::Cew, "2027-12-03T23:59:59Z"),
    ];
    let active = officer(PersonStatus::Active);
    assert_eq!(
        may_draw(&active, &certs, draw(WeaponClass::Cew, now)),
        Ok(())
    );
    assert_eq!(
        may_draw(&active, &certs, draw(WeaponClass::PatrolRifle, now)),
        Err(Reason::NotCertified)
    );
    assert_eq!(
        may_draw(
            &officer(PersonStatus::Suspended),
            &certs,
            draw(WeaponClass::Cew, now)
        ),
        Err(Reason::PersonSuspended)
    );
    assert_eq!(
        may_draw(
            &officer(PersonStatus::Leave),
            &certs,
            draw(WeaponClass::Cew, now)
        ),
        Err(Reason::PersonOnLeave)
    );
}

#[test]
fn pins_are_hashed_and_shaped() {
    let hash = hash_pin("1234", CHEAP).expect("valid PIN");
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains("1234$"));
    assert!(verify_pin(&hash, "1234"));
    assert!(!verify_pin(&hash, "1235"));
    assert!(!verify_pin("not a hash", "1234"));
    assert_eq!(hash_pin("12a4", CHEAP), Err(PinError::BadShape));
    assert_eq!(hash_pin("123", CHEAP), Err(PinError::BadShape));
}

#[test]
fn every_reason_has_a_distinct_code() {
    let codes: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), Reason::ALL.len());
}

fn draw(class: WeaponClass, now: Timestamp) -> Draw<'static> {
    static RULE: std::sync::OnceLock<ClassRule> = std::sync::OnceLock::new();
    static SITE: std::sync::OnceLock<SiteId> = std::sync::OnceLock::new();
    Draw {
        class,
        rule: RULE.get_or_init(ClassRule::default),
        site: SITE.get_or_init(|| SiteId::from("SLM")),
        now,
    }
}

#[test]
fn roles_sites_and_uncertified_classes_follow_the_class_rule() {
    let now: Timestamp = "2026-12-03T14:00:00Z".parse().expect("valid instant");
    let person = officer(PersonStatus::Active);
    let site = SiteId::from("SLM");
    let supervisors_only = ClassRule {
        roles: vec![Role::Supervisor],
        ..ClassRule::default()
    };
    let asked = |rule| Draw {
        class: WeaponClass::PatrolRifle,
        rule,
        site: &site,
        now,
    };
    assert_eq!(
        may_draw(&person, &[], asked(&supervisors_only)),
        Err(Reason::RoleNotPermitted)
    );
    let elsewhere = ClassRule {
        sites: vec![SiteId::from("PDX")],
        ..ClassRule::default()
    };
    assert_eq!(
        may_draw(&person, &[], asked(&elsewhere)),
        Err(Reason::SiteNotPermitted)
    );
    let no_training = ClassRule {
        certification_required: false,
        ..ClassRule::default()
    };
    assert_eq!(may_draw(&person, &[], asked(&no_training)), Ok(()));
}
