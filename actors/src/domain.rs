//! The armory's own vocabulary: sites, lockers, compartments, readers,
//! weapons, people and their certifications.
//!
//! These are plain data. The importer builds them from the agency's CSV
//! exports, the store persists them, and the actors own their live state.
//! Nothing here does I/O.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

id_type!(
    /// An office of the agency, e.g. `SLM`.
    SiteId
);
id_type!(
    /// A locker, unique across the agency, e.g. `SLM-L1`.
    LockerId
);
id_type!(
    /// A reader on a locker, unique within its locker, e.g. `R1`.
    ReaderId
);
id_type!(
    /// A weapon's asset tag, e.g. `LL-01001`.
    AssetTag
);
id_type!(
    /// A person's employee id from the HR roster, e.g. `E40004`.
    EmployeeId
);

/// A compartment's number within its locker, counted from 1.
pub type CompartmentNo = u16;

/// A badge's card UID, normalised to upper-case hex.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BadgeUid(String);

impl BadgeUid {
    /// Parses a card UID: hex digits, any case, surrounding spaces ignored.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let trimmed = text.trim();
        let valid_length = (2..=32).contains(&trimmed.len()) && trimmed.len().is_multiple_of(2);
        if !valid_length || !trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::BadBadge {
                text: truncate(trimmed),
            });
        }
        Ok(Self(trimmed.to_ascii_uppercase()))
    }

    /// The full UID. Never log this; use [`BadgeUid::fingerprint`].
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// A short, stable form that is safe for logs: the last four hex digits.
    pub fn fingerprint(&self) -> String {
        let tail = &self.0[self.0.len().saturating_sub(4)..];
        format!("…{tail}")
    }
}

impl fmt::Debug for BadgeUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BadgeUid({})", self.fingerprint())
    }
}

/// Errors from parsing the armory's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A badge UID that is not 1 to 16 bytes of hex.
    #[error("badge UID {text:?} is not an even number (2 to 32) of hex digits")]
    BadBadge {
        /// The offending text, shortened.
        text: String,
    },
    /// A word that is not one of the allowed values.
    #[error("{what} {text:?} is not one of: {allowed}")]
    UnknownWord {
        /// Which vocabulary, e.g. "weapon class".
        what: &'static str,
        /// The offending text, shortened.
        text: String,
        /// The allowed words.
        allowed: &'static str,
    },
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Declares a closed vocabulary: an enum with its file/topic words.
macro_rules! word_enum {
    (
        $(#[$doc:meta])* $name:ident, $what:literal,
        { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word used in files, topics and payloads.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::DomainError;

            fn from_str(text: &str) -> Result<Self, $crate::domain::DomainError> {
                match text.trim() {
                    $($word => Ok($name::$variant),)+
                    other => Err($crate::domain::DomainError::UnknownWord {
                        what: $what,
                        text: other.chars().take(40).collect(),
                        allowed: concat!($($word, " "),+),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use word_enum;

word_enum!(
    /// A class of weapon; certification is per class.
    WeaponClass, "weapon class", {
        /// Conducted electrical weapon (TASER).
        Cew = "cew",
        /// Pepperball launcher.
        Pepperball = "pepperball",
        /// 40 mm less-lethal launcher.
        Launcher40mm = "launcher_40mm",
        /// Beanbag shotgun.
        BeanbagShotgun = "beanbag_shotgun",
        /// Patrol rifle.
        PatrolRifle = "patrol_rifle",
    }
);

word_enum!(
    /// A person's role in the agency.
    Role, "role", {
        /// Sworn officer.
        Officer = "officer",
        /// Supervisor.
        Supervisor = "supervisor",
        /// Armorer: services weapons, may open quarantined compartments.
        Armorer = "armorer",
        /// Administrator.
        Admin = "admin",
    }
);

word_enum!(
    /// A person's employment status; only `active` may draw weapons.
    PersonStatus, "person status", {
        /// On duty roster.
        Active = "active",
        /// Suspended.
        Suspended = "suspended",
        /// On leave.
        Leave = "leave",
    }
);

word_enum!(
    /// A weapon's service status as the armory records it.
    ServiceStatus, "weapon status", {
        /// Serviceable.
        InService = "in_service",
        /// Flagged for service; not issued.
        NeedsService = "needs_service",
        /// Withdrawn from use.
        OutOfService = "out_of_service",
        /// A problem was reported; only an armorer may open its compartment.
        Quarantined = "quarantined",
        /// Retired after service; never issued again.
        Retired = "retired",
    }
);

word_enum!(
    /// The size of a compartment.
    CompartmentSize, "compartment size", {
        /// Small.
        Small = "S",
        /// Medium.
        Medium = "M",
        /// Large.
        Large = "L",
    }
);

word_enum!(
    /// The credential factors a reader takes.
    ReaderKind, "reader kind", {
        /// RFID badge plus PIN pad.
        BadgePin = "badge+pin",
        /// RFID badge plus fingerprint.
        BadgeFingerprint = "badge+fingerprint",
    }
);

/// An office and its time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Short id, e.g. `SLM`.
    pub id: SiteId,
    /// Display name.
    pub name: String,
    /// IANA time zone name, e.g. `America/Los_Angeles`.
    pub timezone: String,
}

/// A locker: its compartments and readers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locker {
    /// The site it stands in.
    pub site: SiteId,
    /// Agency-wide id.
    pub id: LockerId,
    /// Hardware model.
    pub model: String,
    /// Compartment sizes, index 0 is compartment 1.
    pub compartments: Vec<CompartmentSize>,
    /// Readers; the reader id is `R{n}`, counted from 1.
    pub readers: Vec<ReaderKind>,
}

impl Locker {
    /// The reader ids of this locker, `R1`, `R2`, ...
    pub fn reader_ids(&self) -> impl Iterator<Item = (ReaderId, ReaderKind)> + '_ {
        self.readers
            .iter()
            .enumerate()
            .map(|(i, kind)| (ReaderId(format!("R{}", i + 1)), *kind))
    }
}

/// A weapon as the inventory and the store know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weapon {
    /// Asset tag.
    pub asset_tag: AssetTag,
    /// Maker's serial number.
    pub serial_number: String,
    /// Maker.
    pub make: String,
    /// Model.
    pub model: String,
    /// Class.
    pub class: WeaponClass,
    /// Home site.
    pub site: SiteId,
    /// Home locker.
    pub locker: LockerId,
    /// Home compartment.
    pub compartment: CompartmentNo,
    /// Service status.
    pub status: ServiceStatus,
    /// Sign-outs since its last service.
    pub sign_outs_since_service: u32,
    /// Sign-outs in its whole life in this system.
    pub total_sign_outs: u32,
    /// Cartridges or rounds deployed since its last service.
    #[serde(default)]
    pub deployments_since_service: u32,
    /// Date of its last service.
    pub last_service_date: Date,
    /// Who holds it now, if it is signed out.
    pub holder: Option<EmployeeId>,
}

/// A person from the HR roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Employee id.
    pub employee_id: EmployeeId,
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// Rank.
    pub rank: String,
    /// Role.
    pub role: Role,
    /// Home site.
    pub home_site: SiteId,
    /// Employment status.
    pub status: PersonStatus,
    /// Badge card UID.
    pub badge: BadgeUid,
    /// Hire date.
    pub hire_date: Date,
}

/// A training certification for one weapon class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certification {
    /// Who holds it.
    pub employee_id: EmployeeId,
    /// LMS course code.
    pub course_code: String,
    /// The class it covers.
    pub class: WeaponClass,
    /// When the course was completed.
    pub completed_on: Date,
    /// The last instant it is valid; at `expires_at + 1s` it has expired.
    pub expires_at: Timestamp,
    /// Instructor's employee id.
    pub instructor: EmployeeId,
}

/// The layout and inventory of the whole agency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Armory {
    /// Sites by id.
    pub sites: BTreeMap<SiteId, Site>,
    /// Lockers by id.
    pub lockers: BTreeMap<LockerId, Locker>,
    /// Weapons by asset tag.
    pub weapons: BTreeMap<AssetTag, Weapon>,
}

/// People and their certifications, as one consistent snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Personnel {
    /// People by employee id.
    pub people: BTreeMap<EmployeeId, Person>,
    /// Certifications by employee id.
    pub certifications: BTreeMap<EmployeeId, Vec<Certification>>,
    /// Enrolled PINs as argon2 PHC strings, by employee id.
    pub pin_hashes: BTreeMap<EmployeeId, String>,
}

impl Personnel {
    /// Finds the person who holds a badge.
    pub fn by_badge(&self, badge: &BadgeUid) -> Option<&Person> {
        self.people.values().find(|person| &person.badge == badge)
    }

    /// The certifications of one person.
    pub fn certifications_of(&self, employee_id: &EmployeeId) -> &[Certification] {
        self.certifications
            .get(employee_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_uids_normalise_case_and_spaces() {
        let badge = BadgeUid::parse(" 618c664a ").expect("valid hex");
        assert_eq!(badge.reveal(), "618C664A");
        assert_eq!(badge.fingerprint(), "…664A");
        assert!(!format!("{badge:?}").contains("618C"));
    }

    #[test]
    fn badge_uids_reject_non_hex() {
        assert!(BadgeUid::parse("61 8C").is_err());
        assert!(BadgeUid::parse("XYZ1").is_err());
        assert!(BadgeUid::parse("").is_err());
    }

    #[test]
    fn words_parse_and_name_what_is_allowed() {
        assert_eq!("cew".parse::<WeaponClass>(), Ok(WeaponClass::Cew));
        let err = "rifle".parse::<WeaponClass>().expect_err("not a class");
        assert!(err.to_string().contains("patrol_rifle"));
    }
}
