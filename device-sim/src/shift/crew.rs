//! Who works a simulated shift: the officers who may draw, and the people
//! and badges that must be turned away.
//!
//! An officer is someone active, with a PIN in `pins.csv`, whom the access
//! policy lets draw a class (their role, the site, a certification valid
//! at the given instant when the class requires one, no second person
//! needed) of which a locker at their home site has a serviceable weapon
//! in its compartment and a reader the policy accepts. Each such pairing
//! of locker and class is one of the officer's draws. This is a pure
//! function of the agency data, the policy and the instant.

use std::collections::{BTreeMap, BTreeSet};

use armory_actors::domain::{
    BadgeUid, EmployeeId, LockerId, PersonStatus, ReaderId, ReaderKind, ServiceStatus, SiteId,
    WeaponClass,
};
use armory_actors::import::AgencyData;
use armory_actors::policy::AccessPolicy;
use jiff::Timestamp;

/// A weapon an officer may draw: a class at a locker of their home site.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Draw {
    /// The locker.
    pub locker: LockerId,
    /// The class.
    pub class: WeaponClass,
}

/// Someone who may draw a weapon, and how they prove who they are.
#[derive(Clone, PartialEq, Eq)]
pub struct Officer {
    /// Employee id.
    pub employee_id: EmployeeId,
    /// Badge.
    pub badge: BadgeUid,
    /// Enrolled PIN, in clear (from `pins.csv`).
    pub pin: String,
    /// Home site.
    pub home_site: SiteId,
    /// What they may draw, and where; never empty.
    pub draws: Vec<Draw>,
}

impl std::fmt::Debug for Officer {
    /// Leaves the PIN out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Officer")
            .field("employee_id", &self.employee_id)
            .field("badge", &self.badge)
            .field("home_site", &self.home_site)
            .field("draws", &self.draws)
            .finish()
    }
}

/// Everyone who may draw a weapon at `now` under `policy`, by employee id.
pub fn select_crew(agency: &AgencyData, policy: &AccessPolicy, now: Timestamp) -> Vec<Officer> {
    let pins: BTreeMap<&EmployeeId, &String> =
        agency.pins.iter().map(|(id, pin)| (id, pin)).collect();
    let stocked = stocked_classes(agency, policy);

    let mut crew = Vec::new();
    for person in agency.personnel.people.values() {
        let Some(pin) = pins.get(&person.employee_id) else {
            continue;
        };
        if person.status != PersonStatus::Active {
            continue;
        }

        // `expires_at` is the last valid instant, as the rules read it.
        let certified: BTreeSet<WeaponClass> = agency
            .personnel
            .certifications_of(&person.employee_id)
            .iter()
            .filter(|certification| now <= certification.expires_at)
            .map(|certification| certification.class)
            .collect();
        let may_draw = |site: &SiteId, class: WeaponClass| {
            let rule = policy.class(class);
            rule.roles.contains(&person.role)
                && (rule.sites.is_empty() || rule.sites.contains(site))
                && (!rule.certification_required || certified.contains(&class))
                // A shift has no second person to authorize a draw.
                && rule.dual_authorization.is_none()
        };
        let draws: Vec<Draw> = stocked
            .iter()
            .filter(|(site, draw)| *site == &person.home_site && may_draw(site, draw.class))
            .map(|(_, draw)| draw.clone())
            .collect();
        if draws.is_empty() {
            continue;
        }

        crew.push(Officer {
            employee_id: person.employee_id.clone(),
            badge: person.badge.clone(),
            pin: (*pin).clone(),
            home_site: person.home_site.clone(),
            draws,
        });
    }
    crew
}

/// Every (site, locker and class) with a serviceable weapon at home, at a
/// locker with a reader the policy accepts.
fn stocked_classes<'a>(
    agency: &'a AgencyData,
    policy: &AccessPolicy,
) -> BTreeSet<(&'a SiteId, Draw)> {
    agency
        .armory
        .weapons
        .values()
        .filter(|weapon| weapon.status == ServiceStatus::InService && weapon.holder.is_none())
        .filter(|weapon| !allowed_readers(agency, policy, &weapon.locker).is_empty())
        .map(|weapon| {
            let draw = Draw {
                locker: weapon.locker.clone(),
                class: weapon.class,
            };
            (&weapon.site, draw)
        })
        .collect()
}

/// The readers of a locker that take the factor the policy requires there.
pub(crate) fn allowed_readers(
    agency: &AgencyData,
    policy: &AccessPolicy,
    locker: &LockerId,
) -> Vec<(ReaderId, ReaderKind)> {
    let Some(locker) = agency.armory.lockers.get(locker) else {
        return Vec::new();
    };
    locker
        .reader_ids()
        .filter(|(_, kind)| policy.reader_allowed(&locker.id, *kind).is_ok())
        .collect()
}

/// A suspended person with an enrolled PIN, whose badge and PIN are right
/// and who must still be turned away.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Suspended {
    pub badge: BadgeUid,
    pub pin: String,
    pub home_site: SiteId,
}

/// Suspended people with a PIN (without one, the PIN check would deny
/// them first, for another reason).
pub(crate) fn suspended_people(agency: &AgencyData) -> Vec<Suspended> {
    let pins: BTreeMap<&EmployeeId, &String> =
        agency.pins.iter().map(|(id, pin)| (id, pin)).collect();
    agency
        .personnel
        .people
        .values()
        .filter(|person| person.status == PersonStatus::Suspended)
        .filter_map(|person| {
            let pin = pins.get(&person.employee_id)?;
            Some(Suspended {
                badge: person.badge.clone(),
                pin: (*pin).clone(),
                home_site: person.home_site.clone(),
            })
        })
        .collect()
}

/// Lockers with a keypad reader the policy accepts, and the id of their
/// first one, for denials that hinge on the PIN being checked.
pub(crate) fn keypad_readers(
    agency: &AgencyData,
    policy: &AccessPolicy,
) -> Vec<(LockerId, SiteId, ReaderId)> {
    agency
        .armory
        .lockers
        .values()
        .filter_map(|locker| {
            let (reader, _) = allowed_readers(agency, policy, &locker.id)
                .into_iter()
                .find(|(_, kind)| *kind == ReaderKind::BadgePin)?;
            Some((locker.id.clone(), locker.site.clone(), reader))
        })
        .collect()
}

/// A PIN that is certainly not `pin`: every digit moved by one.
pub(crate) fn wrong_pin(pin: &str) -> String {
    let shifted: String = pin
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(digit) => char::from_digit((digit + 1) % 10, 10).unwrap_or('0'),
            None => '0',
        })
        .collect();
    if shifted.is_empty() {
        "0000".to_owned()
    } else {
        shifted
    }
}
