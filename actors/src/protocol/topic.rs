//! Building and parsing topic names.
//!
//! Every topic the service reads or writes is built here, so that the
//! namespace has one definition. Parsing is strict: a topic outside the
//! namespace, with an empty or oversized segment, or with bytes outside
//! `[A-Za-z0-9._-]` in an id is refused before anything reaches an actor.

use crate::domain::{AssetTag, CompartmentNo, LockerId, ReaderId, SiteId};

/// The root of the namespace, version included.
pub const ROOT: &str = "armory/v1";

/// Subscription filter for every device event of every locker.
pub const DEVICE_EVENTS_FILTER: &str = "armory/v1/+/+/event/#";

/// Longest id segment accepted in a topic.
const MAX_SEGMENT: usize = 64;

/// A topic of the namespace, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Events from a locker's controller (online, heartbeat).
    ControllerEvent {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
    },
    /// Events from a reader (scans).
    ReaderEvent {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
        /// Reader.
        reader: ReaderId,
    },
    /// Events from a compartment (door, presence).
    CompartmentEvent {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
        /// Compartment.
        compartment: CompartmentNo,
    },
    /// Commands to a compartment's lock.
    CompartmentCommand {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
        /// Compartment.
        compartment: CompartmentNo,
    },
    /// Commands to a reader's display.
    ReaderCommand {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
        /// Reader.
        reader: ReaderId,
    },
    /// Retained state of a locker.
    LockerState {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
    },
    /// Retained state of a compartment.
    CompartmentState {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
        /// Compartment.
        compartment: CompartmentNo,
    },
    /// Retained state of a weapon, under its home locker.
    WeaponState {
        /// Site.
        site: SiteId,
        /// Home locker.
        locker: LockerId,
        /// Weapon.
        asset_tag: AssetTag,
    },
    /// Access decisions, sign-outs and returns at a locker.
    Activity {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
    },
    /// Alerts raised at a locker.
    Alert {
        /// Site.
        site: SiteId,
        /// Locker.
        locker: LockerId,
    },
    /// The service's own retained status (also its last will).
    ServiceState,
    /// The personnel in force in the service (retained): counts and what
    /// the last roster, training or PIN change did.
    Personnel,
}

/// Why a topic was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not under `armory/v1/`.
    #[error("topic is outside the armory/v1 namespace")]
    OutsideNamespace,
    /// The shape after the namespace is not one the API defines.
    #[error("topic has no meaning in the armory/v1 API")]
    UnknownShape,
    /// An id segment is empty, too long or has bytes outside `[A-Za-z0-9._-]`.
    #[error("topic segment {position} is not a valid id")]
    BadSegment {
        /// Zero-based position of the segment after the namespace.
        position: usize,
    },
    /// A compartment number that is not 1 to 65535.
    #[error("compartment {text:?} is not a number from 1 to 65535")]
    BadCompartment {
        /// The offending segment, shortened.
        text: String,
    },
}

impl Topic {
    /// The topic name.
    pub fn name(&self) -> String {
        match self {
            Topic::ControllerEvent { site, locker } => {
                format!("{ROOT}/{site}/{locker}/event/controller")
            }
            Topic::ReaderEvent {
                site,
                locker,
                reader,
            } => format!("{ROOT}/{site}/{locker}/event/reader/{reader}"),
            Topic::CompartmentEvent {
                site,
                locker,
                compartment,
            } => format!("{ROOT}/{site}/{locker}/event/compartment/{compartment}"),
            Topic::CompartmentCommand {
                site,
                locker,
                compartment,
            } => format!("{ROOT}/{site}/{locker}/command/compartment/{compartment}"),
            Topic::ReaderCommand {
                site,
                locker,
                reader,
            } => format!("{ROOT}/{site}/{locker}/command/reader/{reader}"),
            Topic::LockerState { site, locker } => format!("{ROOT}/{site}/{locker}/state"),
            Topic::CompartmentState {
                site,
                locker,
                compartment,
            } => format!("{ROOT}/{site}/{locker}/state/compartment/{compartment}"),
            Topic::WeaponState {
                site,
                locker,
                asset_tag,
            } => format!("{ROOT}/{site}/{locker}/state/weapon/{asset_tag}"),
            Topic::Activity { site, locker } => format!("{ROOT}/{site}/{locker}/activity"),
            Topic::Alert { site, locker } => format!("{ROOT}/{site}/{locker}/alert"),
            Topic::ServiceState => format!("{ROOT}/service/state"),
            Topic::Personnel => format!("{ROOT}/service/personnel"),
        }
    }

    /// Parses a topic name.
    pub fn parse(name: &str) -> Result<Topic, TopicError> {
        let rest = name
            .strip_prefix(ROOT)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or(TopicError::OutsideNamespace)?;
        let parts: Vec<&str> = rest.split('/').collect();

        if parts == ["service", "state"] {
            return Ok(Topic::ServiceState);
        }
        if parts == ["service", "personnel"] {
            return Ok(Topic::Personnel);
        }
        if parts.len() < 3 {
            return Err(TopicError::UnknownShape);
        }
        for (position, part) in parts.iter().enumerate() {
            if !is_valid_segment(part) {
                return Err(TopicError::BadSegment { position });
            }
        }

        let site = SiteId::from(parts[0]);
        let locker = LockerId::from(parts[1]);
        let topic = match parts[2..] {
            ["event", "controller"] => Topic::ControllerEvent { site, locker },
            ["event", "reader", reader] => Topic::ReaderEvent {
                site,
                locker,
                reader: ReaderId::from(reader),
            },
            ["event", "compartment", number] => Topic::CompartmentEvent {
                site,
                locker,
                compartment: parse_compartment(number)?,
            },
            ["command", "compartment", number] => Topic::CompartmentCommand {
                site,
                locker,
                compartment: parse_compartment(number)?,
            },
            ["command", "reader", reader] => Topic::ReaderCommand {
                site,
                locker,
                reader: ReaderId::from(reader),
            },
            ["state"] => Topic::LockerState { site, locker },
            ["state", "compartment", number] => Topic::CompartmentState {
                site,
                locker,
                compartment: parse_compartment(number)?,
            },
            ["state", "weapon", tag] => Topic::WeaponState {
                site,
                locker,
                asset_tag: AssetTag::from(tag),
            },
            ["activity"] => Topic::Activity { site, locker },
            ["alert"] => Topic::Alert { site, locker },
            _ => return Err(TopicError::UnknownShape),
        };
        Ok(topic)
    }
}

fn is_valid_segment(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= MAX_SEGMENT
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn parse_compartment(text: &str) -> Result<CompartmentNo, TopicError> {
    match text.parse::<CompartmentNo>() {
        Ok(number) if number >= 1 && !text.starts_with('0') => Ok(number),
        _ => Err(TopicError::BadCompartment {
            text: text.chars().take(16).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_round_trips() {
        let site = SiteId::from("SLM");
        let locker = LockerId::from("SLM-L1");
        let topics = [
            Topic::ControllerEvent {
                site: site.clone(),
                locker: locker.clone(),
            },
            Topic::ReaderEvent {
                site: site.clone(),
                locker: locker.clone(),
                reader: ReaderId::from("R2"),
            },
            Topic::CompartmentEvent {
                site: site.clone(),
                locker: locker.clone(),
                compartment: 7,
            },
            Topic::CompartmentCommand {
                site: site.clone(),
                locker: locker.clone(),
                compartment: 7,
            },
            Topic::WeaponState {
                site: site.clone(),
                locker: locker.clone(),
                asset_tag: AssetTag::from("LL-01001"),
            },
            Topic::Activity {
                site: site.clone(),
                locker: locker.clone(),
            },
            Topic::ServiceState,
            Topic::Personnel,
        ];
        for topic in topics {
            assert_eq!(Topic::parse(&topic.name()), Ok(topic));
        }
    }

    #[test]
    fn the_personnel_topic_has_its_fixed_name() {
        assert_eq!(Topic::Personnel.name(), "armory/v1/service/personnel");
        assert_eq!(
            Topic::parse("armory/v1/service/personnel"),
            Ok(Topic::Personnel)
        );
        assert_eq!(
            Topic::parse("armory/v1/service/personnel/x"),
            Err(TopicError::UnknownShape)
        );
    }

    #[test]
    fn hostile_topics_are_refused() {
        assert_eq!(
            Topic::parse("other/v1/SLM/SLM-L1/state"),
            Err(TopicError::OutsideNamespace)
        );
        assert_eq!(
            Topic::parse("armory/v1/SLM/SLM L1/state"),
            Err(TopicError::BadSegment { position: 1 })
        );
        assert!(matches!(
            Topic::parse("armory/v1/SLM/SLM-L1/event/compartment/0"),
            Err(TopicError::BadCompartment { .. })
        ));
        assert!(matches!(
            Topic::parse("armory/v1/SLM/SLM-L1/event/compartment/07"),
            Err(TopicError::BadCompartment { .. })
        ));
        assert_eq!(
            Topic::parse("armory/v1/SLM/SLM-L1/event/door"),
            Err(TopicError::UnknownShape)
        );
        assert_eq!(
            Topic::parse("armory/v1/SLM/SLM-L1/state/"),
            Err(TopicError::BadSegment { position: 3 })
        );
    }
}
