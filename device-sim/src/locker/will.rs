//! The controller's last will: what the broker says for it when its
//! connection dies without a DISCONNECT (power cut, cable pulled, crash).
//!
//! The will is a sealed `ControllerOffline` event on the controller's event
//! topic, so the service opens it like any event of this locker: under the
//! locker's key, with its expiry and its id checked. Only the counter check
//! is waived for it, because the will is sealed when the connection opens
//! and delivered after events with higher counters. It goes at QoS 1 and is
//! never retained (a retained copy would tell every later subscriber that a
//! live controller is offline).
//!
//! A will is sealed afresh before every connection attempt, so each one
//! carries its own id, a counter from this controller's counter, and an
//! expiry counted from that connection's start.

use armory_actors::protocol::{DeviceEvent, Header, SealedEnvelope};
use jiff::SignedDuration;
use rumqttc::{LastWill, QoS};
use uuid::Uuid;

use super::Shared;

/// How long a last will stays valid after the connection it rides on opens.
///
/// An event lives thirty seconds, but a will is sealed at connect time and
/// delivered whenever the connection dies, which may be days later; a will
/// that expired before then would be refused as stale and the controller's
/// loss noticed only at the heartbeat timeout. Seven days outlives any
/// connection of a healthy controller by far. A copy captured off the bus
/// and replayed within that time can only mark the locker offline (which
/// fails secure) until its next heartbeat, and the service refuses the
/// same will id twice. A connection older than this still has the
/// heartbeat timeout behind it.
pub(crate) const WILL_LIFETIME: SignedDuration = SignedDuration::from_secs(7 * 24 * 3600);

impl Shared {
    /// A freshly sealed last will for the next connection.
    pub(super) fn last_will(&self) -> LastWill {
        let topic = self.controller_topic().name();
        let header = Header {
            id: Uuid::new_v4(),
            sender: self.id.as_str(),
            counter: self.next_counter(),
            at: self.clock.now(),
            lifetime: WILL_LIFETIME,
        };
        let sealed =
            SealedEnvelope::seal_with_id(&self.key, &topic, header, DeviceEvent::ControllerOffline);
        LastWill::new(topic, sealed.to_bytes(), QoS::AtLeastOnce, false)
    }
}
