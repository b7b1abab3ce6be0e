//! The connection task of a locker: polls the MQTT event loop, and only that.
//!
//! rumqttc reconnects on the next poll after an error, at once and forever;
//! this task waits a capped, jittered, doubling delay first, so that fifty
//! lockers do not hammer a broker that is restarting. It never publishes
//! itself (that could wait on the very channel it drains): ConnAcks and
//! incoming publishes go to the controller task. Before every connection
//! attempt it gives the options a freshly sealed last will (see `will`). It
//! never gives up on a broker that is gone: it ends only after the clean
//! DISCONNECT of a shutdown, at shutdown, or when the controller task ends.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::{Event, EventLoop, Outgoing, Packet};
use tokio::sync::{mpsc, watch};

use super::{Inbound, Shared};

/// First wait after a connection error.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Polls `eventloop` until shutdown, reconnecting with backoff.
pub(super) async fn run(
    mut eventloop: EventLoop,
    shared: Arc<Shared>,
    inbound: mpsc::UnboundedSender<Inbound>,
    shutdown: watch::Receiver<bool>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut backoff = FIRST_BACKOFF;

    loop {
        // No connection: this poll connects, carrying a will sealed now.
        if eventloop.network.is_none() {
            eventloop.mqtt_options.set_last_will(shared.last_will());
        }

        let event = eventloop.poll().await;
        let stopping = *shutdown.borrow();
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = FIRST_BACKOFF;
                shared.state().stats.connections += 1;
                tracing::debug!(locker = %shared.id, "connected");
                if inbound.send(Inbound::Connected).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if inbound.send(Inbound::Publish(publish)).is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                shared.connected.send_replace(false);
                tracing::debug!(locker = %shared.id, "disconnected");
                return;
            }
            Ok(_) => {}
            Err(error) => {
                shared.connected.send_replace(false);
                if stopping {
                    return;
                }
                shared.state().stats.connection_errors += 1;
                tracing::warn!(locker = %shared.id, error = %error, "connection lost");

                // Wait between half and all of the current backoff.
                let wait = rng.gen_range(backoff / 2..=backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let mut shutdown = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        }
    }
}
