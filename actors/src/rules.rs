//! Who may draw what: the access rules and their reason codes.
//!
//! [`authorize`] is a pure function of the personnel snapshot, the
//! credentials presented and the instant, so every rule is tested without
//! hardware. PINs are kept only as argon2 hashes; [`hash_pin`] enrols one
//! and verification happens inside [`authorize`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use jiff::Timestamp;

use crate::domain::{
    BadgeUid, Certification, Person, PersonStatus, Personnel, ReaderKind, SiteId, WeaponClass,
};
use crate::policy::ClassRule;

/// Why an attempt was granted or denied; the code goes to the audit trail,
/// the reader's display and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Access granted.
    Granted,
    /// No person holds this badge.
    UnknownBadge,
    /// The PIN does not match, or none is enrolled.
    WrongPin,
    /// A factor the reader requires is missing (PIN, fingerprint).
    MissingFactor,
    /// The fingerprint reader reported no match.
    BiometricMismatch,
    /// The person is suspended.
    PersonSuspended,
    /// The person is on leave.
    PersonOnLeave,
    /// No certification for the class was ever recorded.
    NotCertified,
    /// The certification for the class has expired.
    CertificationExpired,
    /// No serviceable weapon of the class is in this locker.
    NoWeaponAvailable,
    /// The person holds no weapon whose home is this locker.
    NothingToReturn,
    /// The request was malformed (bad badge text, sealed PIN that fails).
    BadRequest,
    /// The service could not make the grant durable; nothing opened.
    StoreUnavailable,
    /// The command could not be sent; nothing opened.
    BusUnavailable,
    /// The person's role may not draw this class.
    RoleNotPermitted,
    /// This class is not issued at this site.
    SiteNotPermitted,
    /// Too many wrong PINs: the badge is locked out of this locker.
    BadgeLockedOut,
    /// The class needs a second person; the first is recorded and waits.
    AwaitingSecondPerson,
    /// The second person is the first person again.
    SecondPersonSame,
    /// The second person's role may not authorize this class.
    SecondPersonNotPermitted,
    /// A supervisor cleared the lockouts of this locker.
    LockoutsCleared,
    /// No sign-out at this locker waits for a second person.
    NothingToAuthorize,
    /// The second person authorized a waiting sign-out.
    SecondPersonAuthorized,
    /// A report about a weapon the person does not hold.
    ReportNotHolder,
    /// A problem code that is not one of the known ones.
    UnknownProblemCode,
    /// A service record for a weapon that is not in its compartment.
    WeaponNotInCompartment,
    /// A release without a passed function test.
    FunctionTestFailed,
    /// The compartment is held after a missing or wrong weapon.
    CompartmentHeld,
    /// An armorer opened a compartment for service.
    ServiceOpened,
    /// An armorer recorded a service.
    ServiceRecorded,
    /// The panel's report was recorded.
    ReportRecorded,
    /// The alarms of the locker were acknowledged.
    AlarmsAcknowledged,
    /// The compartment or reader is isolated after repeated faults.
    DeviceIsolated,
    /// The reader's actor failed before it decided the scan; nothing
    /// opened.
    ReaderFailed,
}

impl Reason {
    /// Every reason, for metrics pre-registration and docs.
    pub const ALL: &'static [Reason] = &[
        Reason::Granted,
        Reason::UnknownBadge,
        Reason::WrongPin,
        Reason::MissingFactor,
        Reason::BiometricMismatch,
        Reason::PersonSuspended,
        Reason::PersonOnLeave,
        Reason::NotCertified,
        Reason::CertificationExpired,
        Reason::NoWeaponAvailable,
        Reason::NothingToReturn,
        Reason::BadRequest,
        Reason::StoreUnavailable,
        Reason::BusUnavailable,
        Reason::RoleNotPermitted,
        Reason::SiteNotPermitted,
        Reason::BadgeLockedOut,
        Reason::AwaitingSecondPerson,
        Reason::SecondPersonSame,
        Reason::SecondPersonNotPermitted,
        Reason::LockoutsCleared,
        Reason::NothingToAuthorize,
        Reason::SecondPersonAuthorized,
        Reason::ReportNotHolder,
        Reason::UnknownProblemCode,
        Reason::WeaponNotInCompartment,
        Reason::FunctionTestFailed,
        Reason::CompartmentHeld,
        Reason::ServiceOpened,
        Reason::ServiceRecorded,
        Reason::ReportRecorded,
        Reason::AlarmsAcknowledged,
        Reason::DeviceIsolated,
        Reason::ReaderFailed,
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Granted => "granted",
            Reason::UnknownBadge => "unknown_badge",
            Reason::WrongPin => "wrong_pin",
            Reason::MissingFactor => "missing_factor",
            Reason::BiometricMismatch => "biometric_mismatch",
            Reason::PersonSuspended => "person_suspended",
            Reason::PersonOnLeave => "person_on_leave",
            Reason::NotCertified => "not_certified",
            Reason::CertificationExpired => "certification_expired",
            Reason::NoWeaponAvailable => "no_weapon_available",
            Reason::NothingToReturn => "nothing_to_return",
            Reason::BadRequest => "bad_request",
            Reason::StoreUnavailable => "store_unavailable",
            Reason::BusUnavailable => "bus_unavailable",
            Reason::RoleNotPermitted => "role_not_permitted",
            Reason::SiteNotPermitted => "site_not_permitted",
            Reason::BadgeLockedOut => "badge_locked_out",
            Reason::AwaitingSecondPerson => "awaiting_second_person",
            Reason::SecondPersonSame => "second_person_same",
            Reason::SecondPersonNotPermitted => "second_person_not_permitted",
            Reason::LockoutsCleared => "lockouts_cleared",
            Reason::NothingToAuthorize => "nothing_to_authorize",
            Reason::SecondPersonAuthorized => "second_person_authorized",
            Reason::ReportNotHolder => "report_not_holder",
            Reason::UnknownProblemCode => "unknown_problem_code",
            Reason::WeaponNotInCompartment => "weapon_not_in_compartment",
            Reason::FunctionTestFailed => "function_test_failed",
            Reason::CompartmentHeld => "compartment_held",
            Reason::ServiceOpened => "service_opened",
            Reason::ServiceRecorded => "service_recorded",
            Reason::ReportRecorded => "report_recorded",
            Reason::AlarmsAcknowledged => "alarms_acknowledged",
            Reason::DeviceIsolated => "device_isolated",
            Reason::ReaderFailed => "reader_failed",
        }
    }
}

/// The credentials presented at a reader, PIN already unsealed.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Badge read.
    pub badge: BadgeUid,
    /// PIN typed, if the reader has a keypad.
    pub pin: Option<String>,
    /// Fingerprint verdict, if the reader has a scanner.
    pub fingerprint_match: Option<bool>,
}

/// Checks identity: who holds the badge, and do the other factors match.
///
/// Argon2 verification is deliberately slow (tens of milliseconds); call
/// this off the async executor (`spawn_blocking`).
pub fn identify<'a>(
    personnel: &'a Personnel,
    reader: ReaderKind,
    credentials: &Credentials,
) -> Result<&'a Person, Reason> {
    let person = personnel
        .by_badge(&credentials.badge)
        .ok_or(Reason::UnknownBadge)?;

    match reader {
        ReaderKind::BadgePin => {
            let pin = credentials.pin.as_deref().ok_or(Reason::MissingFactor)?;
            let hash = personnel
                .pin_hashes
                .get(&person.employee_id)
                .ok_or(Reason::WrongPin)?;
            if !verify_pin(hash, pin) {
                return Err(Reason::WrongPin);
            }
        }
        ReaderKind::BadgeFingerprint => match credentials.fingerprint_match {
            Some(true) => {}
            Some(false) => return Err(Reason::BiometricMismatch),
            None => return Err(Reason::MissingFactor),
        },
    }
    Ok(person)
}

/// Checks that an identified person may draw a weapon of `class` at a
/// locker of `site` at `now`, under the class's rule.
pub fn may_draw(
    person: &Person,
    certifications: &[Certification],
    draw: Draw<'_>,
) -> Result<(), Reason> {
    let Draw {
        class,
        rule,
        site,
        now,
    } = draw;
    may_act(person)?;
    if !rule.roles.contains(&person.role) {
        return Err(Reason::RoleNotPermitted);
    }
    if !rule.sites.is_empty() && !rule.sites.contains(site) {
        return Err(Reason::SiteNotPermitted);
    }
    if !rule.certification_required {
        return Ok(());
    }

    let mut for_class = certifications
        .iter()
        .filter(|c| c.class == class)
        .peekable();
    if for_class.peek().is_none() {
        return Err(Reason::NotCertified);
    }
    // `expires_at` is the last valid instant: valid through that second.
    if for_class.any(|c| now <= c.expires_at) {
        Ok(())
    } else {
        Err(Reason::CertificationExpired)
    }
}

/// What is asked for, where and when.
#[derive(Clone, Copy, Debug)]
pub struct Draw<'a> {
    /// The class.
    pub class: WeaponClass,
    /// Its rule.
    pub rule: &'a ClassRule,
    /// The site of the locker.
    pub site: &'a SiteId,
    /// The instant of the request.
    pub now: Timestamp,
}

/// Checks that a person is active at all (returns need no certification).
pub fn may_act(person: &Person) -> Result<(), Reason> {
    match person.status {
        PersonStatus::Active => Ok(()),
        PersonStatus::Suspended => Err(Reason::PersonSuspended),
        PersonStatus::Leave => Err(Reason::PersonOnLeave),
    }
}

/// Argon2 cost settings for PIN hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PinHashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl Default for PinHashCost {
    /// OWASP's argon2id baseline: 19 MiB, 2 passes.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Why a PIN could not be enrolled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// PINs are 4 to 12 digits.
    #[error("a PIN is 4 to 12 digits")]
    BadShape,
    /// The cost settings are out of argon2's range.
    #[error("argon2 refused the cost settings: {detail}")]
    BadCost {
        /// What argon2 said.
        detail: String,
    },
}

/// Hashes a PIN for storage as an argon2id PHC string.
pub fn hash_pin(pin: &str, cost: PinHashCost) -> Result<String, PinError> {
    let pin_shape_ok = (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit());
    if !pin_shape_ok {
        return Err(PinError::BadShape);
    }
    let params =
        argon2::Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|error| {
            PinError::BadCost {
                detail: error.to_string(),
            }
        })?;
    let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    hasher
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PinError::BadCost {
            detail: error.to_string(),
        })
}

/// Checks a PIN against its stored hash; a malformed hash never matches.
pub fn verify_pin(hash: &str, pin: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
