//! Crew selection: who may draw what, on the tiny agency and on the demo
//! data set the simulator ships with.

#[allow(dead_code)]
#[path = "support/tiny_agency.rs"]
mod tiny_agency;

use std::path::Path;

use armory_actors::domain::{
    EmployeeId, LockerId, PersonStatus, Role, ServiceStatus, SiteId, WeaponClass,
};
use armory_actors::import::AgencyData;
use armory_actors::policy::{AccessPolicy, ClassRule, LockerRule, SecondFactor};
use armory_device_sim::{select_crew, Draw};
use jiff::SignedDuration;
use tiny_agency::{instant, tiny_agency, LAST_SECOND_OF_E4};

fn policy() -> AccessPolicy {
    AccessPolicy::default()
}

fn ids(crew: &[armory_device_sim::Officer]) -> Vec<&str> {
    crew.iter()
        .map(|officer| officer.employee_id.as_str())
        .collect()
}

#[test]
fn only_active_certified_people_with_a_weapon_at_home_are_picked() {
    let agency = tiny_agency();
    let crew = select_crew(&agency, &policy(), instant(LAST_SECOND_OF_E4));

    // E2 is suspended; E3's only class has no serviceable weapon.
    assert_eq!(ids(&crew), ["E1", "E4"]);
    let first = &crew[0];
    assert_eq!(first.pin, "1234");
    assert_eq!(
        first.draws,
        [Draw {
            locker: LockerId::from("TST-L1"),
            class: WeaponClass::Cew,
        }]
    );
    assert!(
        !format!("{first:?}").contains("1234"),
        "Debug hides the PIN"
    );
}

#[test]
fn a_certification_is_valid_through_its_last_second_and_not_after() {
    let agency = tiny_agency();
    let last = instant(LAST_SECOND_OF_E4);
    let after = last
        .checked_add(SignedDuration::from_secs(1))
        .unwrap_or_else(|error| panic!("one second later exists: {error}"));

    assert!(ids(&select_crew(&agency, &policy(), last)).contains(&"E4"));
    assert!(!ids(&select_crew(&agency, &policy(), after)).contains(&"E4"));
}

#[test]
fn people_without_a_pin_are_not_picked() {
    let mut agency = tiny_agency();
    agency.pins.retain(|(id, _)| id != &EmployeeId::from("E1"));

    let crew = select_crew(&agency, &policy(), instant(LAST_SECOND_OF_E4));
    assert_eq!(ids(&crew), ["E4"]);
}

#[test]
fn a_weapon_signed_out_gives_nothing_to_draw() {
    let mut agency = tiny_agency();
    for weapon in agency.armory.weapons.values_mut() {
        weapon.holder = Some(EmployeeId::from("E4"));
    }

    assert!(select_crew(&agency, &policy(), instant(LAST_SECOND_OF_E4)).is_empty());
}

#[test]
fn the_access_policy_narrows_the_crew() {
    let agency = tiny_agency();
    let now = instant(LAST_SECOND_OF_E4);

    let mut supervisors_only = policy();
    let rule = ClassRule {
        roles: vec![Role::Supervisor],
        ..ClassRule::default()
    };
    supervisors_only.classes.insert(WeaponClass::Cew, rule);
    assert!(select_crew(&agency, &supervisors_only, now).is_empty());

    let mut elsewhere = policy();
    let rule = ClassRule {
        sites: vec![SiteId::from("PDX")],
        ..ClassRule::default()
    };
    elsewhere.classes.insert(WeaponClass::Cew, rule);
    assert!(select_crew(&agency, &elsewhere, now).is_empty());

    // Without a training requirement, E3 may draw `cew` too.
    let mut untrained = policy();
    let rule = ClassRule {
        certification_required: false,
        ..ClassRule::default()
    };
    untrained.classes.insert(WeaponClass::Cew, rule);
    assert_eq!(
        ids(&select_crew(&agency, &untrained, now)),
        ["E1", "E3", "E4"]
    );

    // A locker that takes fingerprints only still has a reader for them.
    let mut fingerprint = policy();
    let rule = LockerRule {
        second_factor: SecondFactor::Fingerprint,
    };
    fingerprint.lockers.insert(LockerId::from("TST-L1"), rule);
    assert_eq!(ids(&select_crew(&agency, &fingerprint, now)), ["E1", "E4"]);
}

#[test]
fn administrators_are_not_crew_by_default() {
    let mut agency = tiny_agency();
    for person in agency.personnel.people.values_mut() {
        person.role = Role::Admin;
    }
    assert!(select_crew(&agency, &policy(), instant(LAST_SECOND_OF_E4)).is_empty());
}

#[test]
fn the_demo_crew_keeps_every_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo");
    let agency = AgencyData::load_dir(&dir)
        .unwrap_or_else(|errors| panic!("{} must import: {errors}", dir.display()));
    let now = instant("2026-12-03T14:00:00Z");
    let crew = select_crew(&agency, &policy(), now);

    assert!(
        crew.len() > 100,
        "a demo shift needs a real crew, got {}",
        crew.len()
    );
    for officer in &crew {
        let person = &agency.personnel.people[&officer.employee_id];
        assert_eq!(person.status, PersonStatus::Active);
        assert_ne!(person.role, Role::Admin);
        assert!(agency
            .pins
            .iter()
            .any(|(id, pin)| id == &officer.employee_id && pin == &officer.pin));
        assert!(!officer.draws.is_empty());

        for draw in &officer.draws {
            let locker = &agency.armory.lockers[&draw.locker];
            assert_eq!(locker.site, person.home_site, "{draw:?} is at home");
            let certified = agency
                .personnel
                .certifications_of(&officer.employee_id)
                .iter()
                .any(|c| c.class == draw.class && now <= c.expires_at);
            assert!(
                certified,
                "{} is certified for {}",
                officer.employee_id, draw.class
            );
            let stocked = agency.armory.weapons.values().any(|weapon| {
                weapon.locker == draw.locker
                    && weapon.class == draw.class
                    && weapon.status == ServiceStatus::InService
                    && weapon.holder.is_none()
            });
            assert!(stocked, "{draw:?} has a serviceable weapon");
        }
    }
}
