//! Sealed envelopes: authenticated, fresh, ordered events and commands.
//!
//! An envelope carries a unique id, the sender's counter, the instant it was
//! made and its expiry, the body, and a tag: HMAC-SHA256 under the locker's
//! key over the topic and the compact JSON of the envelope with an empty
//! tag. A receiver opens it with [`SealedEnvelope::open`], which checks size,
//! shape, version, the bounds of the body ([`super::bounds`]), tag and
//! freshness, then orders it with a [`CounterWindow`], which refuses
//! replays.
//!
//! The tag covers the topic, so the locker id and the compartment or
//! reader a command is for are bound to it: a command moved to another
//! topic fails its tag.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bounds::{is_id, Bounded};
use super::keys::LockerKey;
use super::{MAX_PAYLOAD_BYTES, SCHEMA_VERSION};

/// How far ahead of the receiver's clock a sender's clock may run.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(5);

/// An authenticated message with a body of type `B`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedEnvelope<B> {
    /// Schema version.
    pub v: u32,
    /// Unique id; receivers count an id once.
    pub id: Uuid,
    /// Who sent it: a locker id for events, `armory` for commands.
    pub sender: String,
    /// The sender's counter, strictly increasing per sender.
    pub counter: u64,
    /// When it was made.
    pub at: Timestamp,
    /// After this instant it is refused.
    pub expires_at: Timestamp,
    /// The event or command.
    pub body: B,
    /// Hex HMAC-SHA256 tag.
    pub tag: String,
}

/// Who seals an envelope, when, and for how long it is good.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// The envelope's unique id.
    pub id: Uuid,
    /// The sender's name.
    pub sender: &'a str,
    /// The sender's counter.
    pub counter: u64,
    /// When it is made.
    pub at: Timestamp,
    /// How long after `at` it expires.
    pub lifetime: SignedDuration,
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {bytes} bytes exceeds the limit of {MAX_PAYLOAD_BYTES}")]
    TooLarge {
        /// The size received.
        bytes: usize,
    },
    /// Not JSON of the envelope's shape.
    #[error("malformed payload: {detail}")]
    Malformed {
        /// What the JSON decoder said, with line and column.
        detail: String,
    },
    /// A schema version this build does not speak.
    #[error("schema version {found} is not supported (expected {SCHEMA_VERSION})")]
    Version {
        /// The version received.
        found: u32,
    },
    /// The tag does not match: forged, altered, or another locker's key.
    #[error("authentication tag does not verify")]
    BadTag,
    /// Past its expiry, or made too far in the future.
    #[error("message is stale or from the future (made {at}, expires {expires_at})")]
    Stale {
        /// When it claims to have been made.
        at: Timestamp,
        /// When it expired.
        expires_at: Timestamp,
    },
    /// The counter is not above the last one seen from this sender.
    #[error("counter {counter} is not above the last seen ({last}): replay or duplicate")]
    Replayed {
        /// The counter received.
        counter: u64,
        /// The highest counter seen before.
        last: u64,
    },
}

impl SealError {
    /// A short code for metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::TooLarge { .. } => "too_large",
            SealError::Malformed { .. } => "malformed",
            SealError::Version { .. } => "version",
            SealError::BadTag => "bad_tag",
            SealError::Stale { .. } => "stale",
            SealError::Replayed { .. } => "replayed",
        }
    }
}

impl<B: Serialize + DeserializeOwned + Clone + Bounded> SealedEnvelope<B> {
    /// Makes and tags an envelope for `topic` with a fresh id.
    pub fn seal(
        key: &LockerKey,
        topic: &str,
        sender: &str,
        counter: u64,
        at: Timestamp,
        lifetime: SignedDuration,
        body: B,
    ) -> Self {
        let header = Header {
            id: Uuid::new_v4(),
            sender,
            counter,
            at,
            lifetime,
        };
        Self::seal_with_id(key, topic, header, body)
    }

    /// Makes and tags an envelope whose id the caller chose (a scan seals
    /// its PIN to its own envelope id, so it needs the id first).
    pub fn seal_with_id(key: &LockerKey, topic: &str, header: Header<'_>, body: B) -> Self {
        let Header {
            id,
            sender,
            counter,
            at,
            lifetime,
        } = header;
        let mut envelope = SealedEnvelope {
            v: SCHEMA_VERSION,
            id,
            sender: sender.to_owned(),
            counter,
            at,
            expires_at: later_by(at, lifetime),
            body,
            tag: String::new(),
        };
        envelope.tag = hex::encode(key.tag(topic, &envelope.signed_bytes()));
        envelope
    }

    /// The envelope as JSON bytes, for publishing.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes of plain data always serialise")
    }

    /// Decodes and authenticates an envelope received on `topic` at `now`.
    /// The tag may be under the locker's retired key until its deadline
    /// (see [`LockerKey::verify_at`]).
    pub fn open(
        key: &LockerKey,
        topic: &str,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<Self, SealError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(SealError::TooLarge { bytes: bytes.len() });
        }
        let envelope: SealedEnvelope<B> =
            serde_json::from_slice(bytes).map_err(|error| SealError::Malformed {
                detail: error.to_string(),
            })?;
        if envelope.v != SCHEMA_VERSION {
            return Err(SealError::Version { found: envelope.v });
        }
        if !is_id(&envelope.sender) {
            return Err(SealError::Malformed {
                detail: "sender is not a valid id".to_owned(),
            });
        }
        if let Some(detail) = envelope.body.out_of_bounds() {
            return Err(SealError::Malformed { detail });
        }

        let tag = hex::decode(&envelope.tag).map_err(|_| SealError::BadTag)?;
        if !key.verify_at(topic, &envelope.signed_bytes(), &tag, now) {
            return Err(SealError::BadTag);
        }

        let made_in_future = envelope.at > later_by(now, MAX_CLOCK_SKEW);
        if now > envelope.expires_at || made_in_future {
            return Err(SealError::Stale {
                at: envelope.at,
                expires_at: envelope.expires_at,
            });
        }
        Ok(envelope)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = SealedEnvelope {
            tag: String::new(),
            ..self.clone()
        };
        serde_json::to_vec(&unsigned).expect("envelopes of plain data always serialise")
    }
}

/// `at` plus `span`, pinned to the end of time rather than overflowing.
pub fn later_by(at: Timestamp, span: SignedDuration) -> Timestamp {
    at.checked_add(span).unwrap_or(Timestamp::MAX)
}

/// The highest counter seen per sender; refuses anything not above it.
#[derive(Debug, Default)]
pub struct CounterWindow {
    last: HashMap<String, u64>,
}

impl CounterWindow {
    /// Accepts `counter` from `sender` if it is above every earlier one.
    pub fn accept(&mut self, sender: &str, counter: u64) -> Result<(), SealError> {
        match self.last.get_mut(sender) {
            Some(last) if counter <= *last => Err(SealError::Replayed {
                counter,
                last: *last,
            }),
            Some(last) => {
                *last = counter;
                Ok(())
            }
            None => {
                self.last.insert(sender.to_owned(), counter);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LockerId;
    use crate::protocol::{Command, FleetSecret, UnlockPurpose};

    fn unlock() -> Command {
        Command::Unlock {
            transaction: Uuid::new_v4(),
            purpose: UnlockPurpose::SignOut,
        }
    }

    const TOPIC: &str = "armory/v1/SLM/SLM-L1/command/compartment/3";

    #[test]
    fn a_sealed_command_opens_once_and_only_where_it_was_sent() {
        let secret = FleetSecret::generate();
        let key = secret.locker_key(&LockerId::from("SLM-L1"));
        let now = Timestamp::from_second(1_780_000_000).expect("valid instant");
        let sealed = SealedEnvelope::seal(
            &key,
            TOPIC,
            "armory",
            7,
            now,
            SignedDuration::from_secs(5),
            unlock(),
        );
        let bytes = sealed.to_bytes();

        let opened = SealedEnvelope::<Command>::open(&key, TOPIC, &bytes, now).expect("opens");
        assert_eq!(opened, sealed);

        let other_topic = "armory/v1/SLM/SLM-L1/command/compartment/4";
        assert_eq!(
            SealedEnvelope::<Command>::open(&key, other_topic, &bytes, now),
            Err(SealError::BadTag)
        );
        let other_key = secret.locker_key(&LockerId::from("SLM-L2"));
        assert_eq!(
            SealedEnvelope::<Command>::open(&other_key, TOPIC, &bytes, now),
            Err(SealError::BadTag)
        );
        let later = later_by(now, SignedDuration::from_secs(6));
        assert!(matches!(
            SealedEnvelope::<Command>::open(&key, TOPIC, &bytes, later),
            Err(SealError::Stale { .. })
        ));

        let mut window = CounterWindow::default();
        assert_eq!(window.accept("armory", 7), Ok(()));
        assert!(window.accept("armory", 7).is_err());
        assert_eq!(window.accept("armory", 8), Ok(()));
    }

    #[test]
    fn an_altered_body_fails_its_tag() {
        let key = FleetSecret::generate().locker_key(&LockerId::from("SLM-L1"));
        let now = Timestamp::from_second(1_780_000_000).expect("valid instant");
        let sealed = SealedEnvelope::seal(
            &key,
            TOPIC,
            "armory",
            1,
            now,
            SignedDuration::from_secs(5),
            unlock(),
        );
        let text = String::from_utf8(sealed.to_bytes()).expect("JSON is UTF-8");
        let altered = text.replace("sign_out", "return");
        assert_eq!(
            SealedEnvelope::<Command>::open(&key, TOPIC, altered.as_bytes(), now),
            Err(SealError::BadTag)
        );
        assert!(matches!(
            SealedEnvelope::<Command>::open(&key, TOPIC, b"{\"v\":1", now),
            Err(SealError::Malformed { .. })
        ));
    }
}
