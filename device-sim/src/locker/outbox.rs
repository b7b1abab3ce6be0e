//! The outbox of a locker: seals every event and publishes it, in order.
//!
//! One task owns the locker's event counter and is the only one to publish
//! events, so the order in which counters are taken is the order in which
//! the events reach rumqttc's request channel, and the service's counter
//! window never sees a later counter before an earlier one. Events go out
//! at QoS 1, never retained, and live for thirty seconds.

use std::sync::Arc;

use armory_actors::protocol::{DeviceEvent, Header, SealedEnvelope, Topic};
use jiff::SignedDuration;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Shared;
use crate::hardware::{unix_micros, EventCounter};

/// How long an event is good for after it is made.
pub(crate) const EVENT_LIFETIME: SignedDuration = SignedDuration::from_secs(30);

/// An event waiting to be sealed and published.
pub(crate) struct OutgoingEvent {
    /// Where it goes.
    pub topic: Topic,
    /// Its envelope id, chosen by the caller (a scan seals its PIN to it).
    pub id: Uuid,
    /// The event.
    pub body: DeviceEvent,
}

/// Seals and publishes events until the channel closes.
pub(super) async fn run(
    shared: Arc<Shared>,
    client: AsyncClient,
    mut events: mpsc::UnboundedReceiver<OutgoingEvent>,
) {
    let mut counter = EventCounter::new();

    while let Some(event) = events.recv().await {
        let name = event.topic.name();
        let kind = event.body.kind();
        let header = Header {
            id: event.id,
            sender: shared.id.as_str(),
            counter: counter.next(unix_micros()),
            at: shared.clock.now(),
            lifetime: EVENT_LIFETIME,
        };
        let sealed = SealedEnvelope::seal_with_id(&shared.key, &name, header, event.body);

        let published = client
            .publish(name, QoS::AtLeastOnce, false, sealed.to_bytes())
            .await;
        match published {
            Ok(()) => shared.state().stats.events_published += 1,
            Err(error) => {
                shared.state().stats.publish_failures += 1;
                tracing::warn!(locker = %shared.id, event = kind, error = %error, "publish failed");
            }
        }
    }
}
