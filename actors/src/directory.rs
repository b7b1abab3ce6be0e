//! Routing from topics to locker actors.
//!
//! The bus hands every message on an event topic to [`Directory::route`],
//! which parses the topic, finds the locker it names and checks that the
//! locker stands at the site the topic names. Anything else is refused
//! with a reason the caller counts; nothing unparsed reaches an actor.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ractor::{ActorId, ActorRef};

use crate::domain::{LockerId, SiteId};
use crate::locker::LockerMsg;
use crate::protocol::{Topic, TopicError, MAX_PAYLOAD_BYTES};

/// Why a message was not routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The topic is malformed or not ours.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// A topic the service publishes, not one it reads.
    #[error("topic is not a device event topic")]
    NotAnEvent,
    /// No such locker is configured (or it has failed).
    #[error("locker {locker} is not configured or not running")]
    UnknownLocker {
        /// The locker named.
        locker: LockerId,
    },
    /// The locker stands at another site.
    #[error("locker {locker} is not at site {site}")]
    WrongSite {
        /// The locker named.
        locker: LockerId,
        /// The site named.
        site: SiteId,
    },
    /// The payload exceeds the size limit.
    #[error("payload of {bytes} bytes exceeds the limit of {MAX_PAYLOAD_BYTES}")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The locker's mailbox is closed.
    #[error("locker {locker} is not running")]
    LockerDown {
        /// The locker named.
        locker: LockerId,
    },
}

impl RouteError {
    /// A short code for metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::Topic(_) => "bad_topic",
            RouteError::NotAnEvent => "not_an_event",
            RouteError::UnknownLocker { .. } => "unknown_locker",
            RouteError::WrongSite { .. } => "wrong_site",
            RouteError::TooLarge { .. } => "too_large",
            RouteError::LockerDown { .. } => "locker_down",
        }
    }
}

/// A running locker: the site it stands at and its actor.
type Entry = (SiteId, ActorRef<LockerMsg>);

/// The running lockers by id.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    lockers: Arc<RwLock<HashMap<LockerId, Entry>>>,
}

impl Directory {
    /// Enters a running locker.
    pub fn enter(&self, locker: LockerId, site: SiteId, actor: ActorRef<LockerMsg>) {
        let mut lockers = self.lockers.write().unwrap_or_else(|e| e.into_inner());
        lockers.insert(locker, (site, actor));
    }

    /// Removes the locker run by `actor`, if any.
    pub fn remove_actor(&self, actor: ActorId) {
        let mut lockers = self.lockers.write().unwrap_or_else(|e| e.into_inner());
        lockers.retain(|_, (_, running)| running.get_id() != actor);
    }

    /// The locker actor for `locker`, if running.
    pub fn locker(&self, locker: &LockerId) -> Option<ActorRef<LockerMsg>> {
        let lockers = self.lockers.read().unwrap_or_else(|e| e.into_inner());
        lockers.get(locker).map(|(_, actor)| actor.clone())
    }

    /// How many lockers are running.
    pub fn len(&self) -> usize {
        self.lockers.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no locker is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands a message on an event topic to its locker.
    pub fn route(&self, topic_name: &str, payload: Vec<u8>) -> Result<(), RouteError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(RouteError::TooLarge {
                bytes: payload.len(),
            });
        }
        let topic = Topic::parse(topic_name)?;
        let (site, locker) = match &topic {
            Topic::ControllerEvent { site, locker }
            | Topic::ReaderEvent { site, locker, .. }
            | Topic::CompartmentEvent { site, locker, .. } => (site.clone(), locker.clone()),
            _ => return Err(RouteError::NotAnEvent),
        };

        let actor = {
            let lockers = self.lockers.read().unwrap_or_else(|e| e.into_inner());
            match lockers.get(&locker) {
                None => return Err(RouteError::UnknownLocker { locker }),
                Some((home, _)) if *home != site => {
                    return Err(RouteError::WrongSite { locker, site })
                }
                Some((_, actor)) => actor.clone(),
            }
        };
        let message = LockerMsg::Device {
            topic,
            topic_name: topic_name.to_owned(),
            payload,
        };
        actor
            .cast(message)
            .map_err(|_| RouteError::LockerDown { locker })
    }
}
