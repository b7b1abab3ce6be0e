//! The service's MQTT client: one connection, one poller, one publisher.
//!
//! rumqttc needs its event loop polled all the time, reconnects at once
//! after an error, and forgets subscriptions when the broker has no session
//! for it. So the poller backs off (capped, with jitter) after an error and
//! subscribes again on every ConnAck, and publishing runs in its own task,
//! draining the actors' [`Bus`](armory_actors::ports::Bus) queue, so a full
//! client queue can never deadlock the poller. The service's retained
//! status topic doubles as its last will. It also watches its own state
//! topics and puts right what others publish there ([`projections`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use armory_actors::ports::Outbound;
use rand::Rng;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub mod projections;

use projections::Projections;

/// Largest packet either way; device payloads are limited far below this.
const MAX_PACKET_BYTES: usize = 64 * 1024;

/// Why the link is not usable.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The broker did not acknowledge the subscriptions in time.
    #[error("the MQTT broker did not acknowledge the subscriptions within {waited:?}")]
    NotSubscribed {
        /// How long the service waited.
        waited: Duration,
    },
}

/// A user name and password to log in with.
#[derive(Clone)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password; never shown by `Debug`.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// How the service connects.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// Broker address.
    pub broker: SocketAddr,
    /// Client id.
    pub client_id: String,
    /// The login; the embedded broker refuses anonymous clients.
    pub credentials: Credentials,
    /// Topic filters to (re)subscribe at QoS 1 on every connection.
    pub subscriptions: Vec<String>,
    /// Retained last will: topic and payload.
    pub last_will: Option<(String, Vec<u8>)>,
}

/// A running connection.
pub struct MqttLink {
    client: AsyncClient,
    projections: Arc<Projections>,
    stopping: Arc<AtomicBool>,
    subscribed: tokio::sync::watch::Receiver<bool>,
    poller: JoinHandle<()>,
    publisher: JoinHandle<()>,
}

impl MqttLink {
    /// Connects in the background; `on_message` sees every publish received.
    pub fn start(
        settings: LinkSettings,
        outbound: mpsc::Receiver<Outbound>,
        on_message: impl Fn(String, Vec<u8>) + Send + 'static,
    ) -> MqttLink {
        let mut options = MqttOptions::new(
            settings.client_id.clone(),
            settings.broker.ip().to_string(),
            settings.broker.port(),
        );
        options.set_keep_alive(Duration::from_secs(15));
        options.set_clean_session(true);
        options.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        options.set_inflight(100);
        options.set_credentials(
            settings.credentials.user.clone(),
            settings.credentials.password.clone(),
        );
        if let Some((topic, payload)) = &settings.last_will {
            options.set_last_will(LastWill::new(
                topic,
                payload.clone(),
                QoS::AtLeastOnce,
                true,
            ));
        }

        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);

        let stopping = Arc::new(AtomicBool::new(false));
        let projections = Arc::new(Projections::default());
        let (subscribed_tx, subscribed) = tokio::sync::watch::channel(false);
        let poller = tokio::spawn(poll(
            eventloop,
            client.clone(),
            settings,
            Arc::clone(&stopping),
            subscribed_tx,
            Arc::clone(&projections),
            on_message,
        ));
        let publisher = tokio::spawn(publish(
            client.clone(),
            outbound,
            subscribed.clone(),
            Arc::clone(&projections),
        ));
        MqttLink {
            client,
            projections,
            stopping,
            subscribed,
            poller,
            publisher,
        }
    }

    /// Waits until the broker has acknowledged the subscriptions, so that
    /// no device event sent from now on is missed.
    pub async fn wait_subscribed(&self, limit: Duration) -> Result<(), LinkError> {
        let mut subscribed = self.subscribed.clone();
        let acknowledged = tokio::time::timeout(limit, async {
            subscribed.wait_for(|done| *done).await.is_ok()
        })
        .await;
        match acknowledged {
            Ok(true) => Ok(()),
            _ => Err(LinkError::NotSubscribed { waited: limit }),
        }
    }

    /// Publishes a message now (used for the service's own status).
    pub async fn publish_now(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        if retain {
            self.projections.remember(topic, &payload);
        }
        if let Err(error) = self
            .client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
        {
            tracing::warn!(%topic, %error, "publish failed");
        }
    }

    /// Disconnects cleanly and stops both tasks.
    pub async fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.client.disconnect().await;
        self.publisher.abort();
        // Let the poller flush the DISCONNECT before it is stopped.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.poller).await;
    }
}

async fn poll(
    mut eventloop: EventLoop,
    client: AsyncClient,
    settings: LinkSettings,
    stopping: Arc<AtomicBool>,
    subscribed: tokio::sync::watch::Sender<bool>,
    projections: Arc<Projections>,
    on_message: impl Fn(String, Vec<u8>),
) {
    let mut failures: u32 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                tracing::info!(
                    broker = %settings.broker,
                    client = %settings.client_id,
                    "MQTT connected"
                );
                for filter in &settings.subscriptions {
                    if let Err(error) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::error!(%filter, %error, "subscribe not queued");
                    }
                }
                for filter in projections::STATE_FILTERS {
                    if let Err(error) = client.try_subscribe(filter, QoS::AtMostOnce) {
                        tracing::error!(%filter, %error, "subscribe not queued");
                    }
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                subscribed.send_replace(true);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let topic = String::from_utf8_lossy(publish.topic.as_ref()).into_owned();
                if Projections::watches(&topic) {
                    correct(&client, &projections, &topic, &publish.payload);
                } else {
                    on_message(topic, publish.payload.to_vec());
                }
            }
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => return,
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(error) => {
                failures = failures.saturating_add(1);
                metrics::counter!("armory_mqtt_connection_errors_total").increment(1);
                let delay = backoff(failures);
                tracing::warn!(
                    %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "MQTT connection lost"
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// State on one of the service's topics that is not the service's own:
/// its latest is published again, retained, and the correction counted.
fn correct(client: &AsyncClient, projections: &Projections, topic: &str, payload: &[u8]) {
    let Some(own) = projections.correction(topic, payload) else {
        return;
    };
    metrics::counter!("armory_state_corrections_total").increment(1);
    tracing::warn!(%topic, "state published by another client; the store's state published again");
    if let Err(error) = client.try_publish(topic, QoS::AtLeastOnce, true, own) {
        tracing::warn!(%topic, %error, "correction not queued");
    }
}

async fn publish(
    client: AsyncClient,
    mut outbound: mpsc::Receiver<Outbound>,
    mut subscribed: tokio::sync::watch::Receiver<bool>,
    projections: Arc<Projections>,
) {
    // Subscribing first keeps the SUBSCRIBE from queueing behind the
    // start-up burst of retained state.
    if subscribed.wait_for(|done| *done).await.is_err() {
        return;
    }
    while let Some(message) = outbound.recv().await {
        if message.retain {
            projections.remember(&message.topic, &message.payload);
        }
        let qos = if message.reliable {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let sent = client
            .publish(message.topic, qos, message.retain, message.payload)
            .await;
        if sent.is_err() {
            tracing::warn!("MQTT client closed; publisher stops");
            return;
        }
        metrics::counter!("armory_mqtt_published_total").increment(1);
    }
}

/// 100 ms doubling to 5 s, with up to 25 % jitter so that a fleet of
/// clients does not reconnect in step.
fn backoff(failures: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << failures.min(6)).min(5_000);
    let jitter = rand::thread_rng().gen_range(0..=base / 4);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) < backoff(4).max(backoff(5)));
        for failures in [1, 5, 10, 40, u32::MAX] {
            assert!(backoff(failures).as_millis() <= 6_250);
        }
    }
}
