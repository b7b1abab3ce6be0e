//! The outbox of a locker: seals every event and publishes it, in order.
//!
//! One task owns the locker's event counter and is the only one to publish
//! events, so the order in which counters are taken is the order in which
//! the events reach rumqttc's request channel, and the service's counter
//! window never sees a later counter before an earlier one. Events go out
//! at QoS 1, never retained, and live for thirty seconds. The counter
//! itself lives in the locker's state, because the last will (see
//! `will`) takes one from it too.
//!
//! While the controller is disconnected, events wait here: handed to
//! rumqttc, they would go out right after the reconnect, before the
//! controller's new SUBSCRIBE, and the service's answers to them (a
//! reader's outcome, an unlock) would reach nobody. They go once the
//! controller has subscribed and announced itself again. (An event already
//! handed over when the connection broke is lost with the session.)
//!
//! A clean shutdown ends with [`OutboxItem::Farewell`]: the controller says
//! it goes offline, then disconnects. The farewell is needed because a
//! clean DISCONNECT makes the broker drop the last will, and it goes
//! through this task so that it leaves after every event queued before it.

use std::sync::Arc;

use armory_actors::protocol::{DeviceEvent, Header, SealedEnvelope, Topic};
use jiff::SignedDuration;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Shared;
use crate::hardware::unix_micros;

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

/// What the outbox takes, in order.
pub(crate) enum OutboxItem {
    /// An event to seal and publish (boxed: the farewell carries nothing).
    Event(Box<OutgoingEvent>),
    /// A clean shutdown: publish `ControllerOffline`, then DISCONNECT.
    Farewell,
}

/// Seals and publishes events until the channel closes or the farewell.
pub(super) async fn run(
    shared: Arc<Shared>,
    client: AsyncClient,
    mut items: mpsc::UnboundedReceiver<OutboxItem>,
) {
    let mut connected = shared.connected.subscribe();
    while let Some(item) = items.recv().await {
        match item {
            OutboxItem::Event(event) => {
                if connected.wait_for(|up| *up).await.is_err() {
                    return;
                }
                publish(&shared, &client, *event).await;
            }
            OutboxItem::Farewell => {
                let goodbye = OutgoingEvent {
                    topic: shared.controller_topic(),
                    id: Uuid::new_v4(),
                    body: DeviceEvent::ControllerOffline,
                };
                publish(&shared, &client, goodbye).await;

                // Queued behind the publish, so the broker has the goodbye
                // before the DISCONNECT that drops the will.
                if let Err(error) = client.disconnect().await {
                    tracing::debug!(locker = %shared.id, error = %error, "disconnect not queued");
                }
                return;
            }
        }
    }
}

/// Seals one event with the next counter and hands it to rumqttc.
async fn publish(shared: &Shared, client: &AsyncClient, event: OutgoingEvent) {
    let name = event.topic.name();
    let kind = event.body.kind();
    let header = Header {
        id: event.id,
        sender: shared.id.as_str(),
        counter: shared.next_counter(),
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

impl Shared {
    /// The next event counter: above every earlier one of this controller.
    pub(super) fn next_counter(&self) -> u64 {
        self.state().counter.next(unix_micros())
    }
}
