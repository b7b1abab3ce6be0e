//! The topic API between the service, the locker hardware and dashboards.
//!
//! Four kinds of traffic are kept apart under one versioned namespace,
//! `armory/v1/{site}/{locker}/...`: device events (hardware to service),
//! commands (service to hardware, never retained), state (service to
//! dashboards, retained, one topic per thing) and activity and alerts
//! (service to dashboards, not retained). `docs/asyncapi.yaml` documents
//! every topic and payload.
//!
//! Events and commands travel in a [`SealedEnvelope`]: an HMAC-SHA256 tag
//! under the locker's key, a per-sender counter and an expiry, so that no
//! MQTT client without the key can inject a scan or open a compartment,
//! whichever broker carries them.

pub mod bounds;
pub mod keys;
pub mod payload;
pub mod seal;
pub mod topic;

pub use bounds::Bounded;
pub use keys::{FleetSecret, LockerKey, SERVICE_MQTT_USER};
pub use payload::*;
pub use seal::{CounterWindow, Header, SealError, SealedEnvelope};
pub use topic::{Topic, TopicError};

/// The version of every payload this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest payload any decoder accepts, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024;
