//! A stand-in for the armory service: it opens the lockers' events and
//! sends them sealed commands, as the test directs.
//!
//! Every event must open under the locker's key and carry a counter above
//! the last one from its locker; anything else fails the test.

use std::net::SocketAddr;
use std::time::Duration;

use armory_actors::protocol::topic::DEVICE_EVENTS_FILTER;
use armory_actors::protocol::{
    Command, CounterWindow, DeviceEvent, LockerKey, SealedEnvelope, Topic,
};
use jiff::{SignedDuration, Timestamp};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};

/// Longest wait for anything the test expects.
const PATIENCE: Duration = Duration::from_secs(10);

/// An event as the service received it.
pub struct Received {
    pub topic: Topic,
    pub event: SealedEnvelope<DeviceEvent>,
}

/// Seals commands as the service does, with its own counter.
pub struct Sealer {
    key: LockerKey,
    counter: u64,
}

impl Sealer {
    /// A sealer for one locker's key.
    pub fn new(key: LockerKey) -> Self {
        Self { key, counter: 0 }
    }

    /// Seals a command from `armory`, made now, with the next counter.
    pub fn seal(&mut self, topic: &Topic, body: Command) -> Vec<u8> {
        self.seal_as(topic, body, "armory", Timestamp::now())
    }

    /// Seals a command with a chosen sender and instant.
    pub fn seal_as(
        &mut self,
        topic: &Topic,
        body: Command,
        sender: &str,
        at: Timestamp,
    ) -> Vec<u8> {
        self.counter += 1;
        let lifetime = SignedDuration::from_secs(5);
        let name = topic.name();
        SealedEnvelope::seal(&self.key, &name, sender, self.counter, at, lifetime, body).to_bytes()
    }
}

/// The fake service's connection.
pub struct FakeService {
    client: AsyncClient,
    received: mpsc::UnboundedReceiver<Result<Received, String>>,
    sealer: Sealer,
}

impl FakeService {
    /// Connects, subscribes to every device event, and waits for the SubAck.
    pub async fn start(broker: SocketAddr, key: LockerKey) -> FakeService {
        let mut options = MqttOptions::new(
            format!("armory-test-service-{}", uuid::Uuid::new_v4().simple()),
            broker.ip().to_string(),
            broker.port(),
        );
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (sender, received) = mpsc::unbounded_channel();
        let (subscribed, ready) = oneshot::channel();

        let subscriber = client.clone();
        let opener = key.clone();
        tokio::spawn(async move {
            let mut subscribed = Some(subscribed);
            let mut window = CounterWindow::default();
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = subscriber.try_subscribe(DEVICE_EVENTS_FILTER, QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(subscribed) = subscribed.take() {
                            let _ = subscribed.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let opened = open(&opener, &mut window, &publish.topic, &publish.payload);
                        if sender.send(opened).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // The broker may still be coming up: try again at once.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        });

        match tokio::time::timeout(PATIENCE, ready).await {
            Ok(Ok(())) => {}
            _ => panic!("the fake service did not subscribe"),
        }
        FakeService {
            client,
            received,
            sealer: Sealer::new(key),
        }
    }

    /// The next event, whatever it is.
    pub async fn next(&mut self) -> Received {
        match tokio::time::timeout(PATIENCE, self.received.recv()).await {
            Ok(Some(Ok(received))) => received,
            Ok(Some(Err(fault))) => panic!("a locker sent a bad event: {fault}"),
            Ok(None) => panic!("the fake service stopped"),
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// The next event that is not a heartbeat.
    pub async fn next_not_heartbeat(&mut self) -> Received {
        loop {
            let received = self.next().await;
            if received.event.body != DeviceEvent::Heartbeat {
                return received;
            }
        }
    }

    /// Seals a command from `armory`, made now, with the next counter.
    pub fn seal(&mut self, topic: &Topic, body: Command) -> Vec<u8> {
        self.sealer.seal(topic, body)
    }

    /// Seals a command with a chosen sender and instant.
    pub fn seal_as(
        &mut self,
        topic: &Topic,
        body: Command,
        sender: &str,
        at: Timestamp,
    ) -> Vec<u8> {
        self.sealer.seal_as(topic, body, sender, at)
    }

    /// Publishes bytes on a topic at QoS 1.
    pub async fn send(&self, topic: &Topic, bytes: Vec<u8>, retain: bool) {
        let sent = self
            .client
            .publish(topic.name(), QoS::AtLeastOnce, retain, bytes)
            .await;
        sent.unwrap_or_else(|error| panic!("the fake service cannot publish: {error}"));
    }
}

fn open(
    key: &LockerKey,
    window: &mut CounterWindow,
    topic: &str,
    payload: &[u8],
) -> Result<Received, String> {
    let parsed = Topic::parse(topic).map_err(|error| format!("{topic}: {error}"))?;
    let event = SealedEnvelope::<DeviceEvent>::open(key, topic, payload, Timestamp::now())
        .map_err(|error| format!("{topic}: {error}"))?;
    window
        .accept(&event.sender, event.counter)
        .map_err(|error| format!("{topic}: {error}"))?;
    Ok(Received {
        topic: parsed,
        event,
    })
}
