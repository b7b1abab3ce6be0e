//! A controller's last will against a real broker: the connection is cut
//! under it (through a relay) and the broker delivers the will, sealed
//! under the locker's key; each reconnect carries a new will; a clean
//! shutdown says goodbye with an ordinary event instead.

#[allow(dead_code)]
#[path = "support/tiny_agency.rs"]
mod tiny_agency;

#[path = "support/broker.rs"]
mod broker;
#[path = "support/proxy.rs"]
mod proxy;

use std::net::SocketAddr;
use std::time::Duration;

use armory_actors::domain::{LockerId, SiteId};
use armory_actors::protocol::{DeviceEvent, FleetSecret, LockerKey, SealedEnvelope, Topic};
use armory_device_sim::{SimConfig, Simulator};
use jiff::{SignedDuration, Timestamp};
use proxy::Proxy;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, oneshot};

/// Longest wait for anything the test expects.
const PATIENCE: Duration = Duration::from_secs(10);

fn controller_topic() -> String {
    Topic::ControllerEvent {
        site: SiteId::from("TST"),
        locker: LockerId::from("TST-L1"),
    }
    .name()
}

/// Everything published on the locker's controller topic, straight from
/// the broker (not through the relay, which the test cuts).
struct Watcher {
    received: mpsc::UnboundedReceiver<Publish>,
    key: LockerKey,
}

impl Watcher {
    async fn start(broker: SocketAddr, key: LockerKey) -> Watcher {
        let mut options = MqttOptions::new("will-watcher", broker.ip().to_string(), broker.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        let (sender, received) = mpsc::unbounded_channel();
        let (subscribed, ready) = oneshot::channel();
        tokio::spawn(async move {
            let mut subscribed = Some(subscribed);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(controller_topic(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(subscribed) = subscribed.take() {
                            let _ = subscribed.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if sender.send(publish).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => panic!("the watcher lost the broker: {error}"),
                }
            }
        });
        match tokio::time::timeout(PATIENCE, ready).await {
            Ok(Ok(())) => {}
            _ => panic!("the watcher did not subscribe"),
        }
        Watcher { received, key }
    }

    /// The next controller event of the kind wanted, with its publish.
    async fn next(&mut self, wanted: &str) -> (Publish, SealedEnvelope<DeviceEvent>) {
        loop {
            let publish = match tokio::time::timeout(PATIENCE, self.received.recv()).await {
                Ok(Some(publish)) => publish,
                _ => panic!("no {wanted} event within {PATIENCE:?}"),
            };
            let opened = SealedEnvelope::<DeviceEvent>::open(
                &self.key,
                &publish.topic,
                &publish.payload,
                Timestamp::now(),
            );
            let envelope = opened.unwrap_or_else(|error| {
                panic!(
                    "{}: a controller event does not open: {error}",
                    publish.topic
                )
            });
            if envelope.body.kind() == wanted {
                return (publish, envelope);
            }
        }
    }
}

async fn start() -> (Proxy, Watcher, Simulator, FleetSecret) {
    let broker = broker::start_broker().await;
    let proxy = Proxy::start(broker).await;
    let secret = FleetSecret::generate();
    let key = secret.locker_key(&LockerId::from("TST-L1"));
    let mut watcher = Watcher::start(broker, key).await;

    let mut config = SimConfig::new(proxy.address(), secret.clone(), tiny_agency::tiny_agency());
    config.handling_delay = (Duration::ZERO, Duration::ZERO);
    let sim = Simulator::start(config)
        .await
        .unwrap_or_else(|error| panic!("the simulator starts: {error}"));
    watcher.next("controller_online").await;
    (proxy, watcher, sim, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_delivers_the_sealed_will_and_each_reconnect_seals_a_new_one() {
    let (proxy, mut watcher, sim, secret) = start().await;

    // The connection dies under the controller: the broker speaks for it.
    proxy.cut();
    let (publish, will) = watcher.next("controller_offline").await;
    assert_eq!(publish.topic, controller_topic());
    assert!(!publish.retain, "a retained will would outlive the outage");
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    assert_eq!(will.sender, "TST-L1");
    assert_eq!(will.body, DeviceEvent::ControllerOffline);
    assert_eq!(
        will.expires_at.duration_since(will.at),
        SignedDuration::from_hours(7 * 24),
        "the will must outlive the connection it rides on"
    );

    // Only this locker's key opens it.
    let other = secret.locker_key(&LockerId::from("TST-L2"));
    let foreign = SealedEnvelope::<DeviceEvent>::open(
        &other,
        &publish.topic,
        &publish.payload,
        Timestamp::now(),
    );
    assert_eq!(foreign.map(|_| ()).map_err(|e| e.code()), Err("bad_tag"));

    // The controller comes back through the relay and announces itself;
    // the will of that connection was sealed before the announcement.
    let (_, online) = watcher.next("controller_online").await;
    assert!(
        proxy.accepted() >= 2,
        "the controller reconnected through the relay"
    );
    proxy.cut();
    let (_, second) = watcher.next("controller_offline").await;
    assert_ne!(second.id, will.id, "each connection seals its own will");
    assert!(second.counter > will.counter);
    assert!(second.counter < online.counter);
    assert!(
        second.at >= will.at,
        "the new will's expiry runs from its connection"
    );

    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_says_goodbye_with_an_ordinary_event() {
    let (_proxy, mut watcher, sim, _secret) = start().await;

    sim.shutdown().await;
    let (publish, goodbye) = watcher.next("controller_offline").await;
    assert_eq!(publish.topic, controller_topic());
    assert!(!publish.retain);
    assert_eq!(
        goodbye.expires_at.duration_since(goodbye.at),
        SignedDuration::from_secs(30),
        "the goodbye is an ordinary event, not the will (a clean DISCONNECT drops the will)"
    );
}
