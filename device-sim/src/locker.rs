//! One simulated locker controller: its MQTT client, tasks and state.
//!
//! A controller runs four tasks. The connection task polls the rumqttc
//! event loop, and nothing else, so that it never waits on its own request
//! channel; it backs off on errors and hands every ConnAck and incoming
//! publish to the controller task. The controller task subscribes to the
//! locker's commands and to the service's state after every ConnAck (the
//! broker does not keep them), announces the controller, reports its doors
//! whenever the service comes online (see `status`), and opens, checks and
//! carries out commands.
//! The outbox task seals and publishes every event in one order, so that
//! counters reach the broker strictly increasing. The heartbeat task says
//! the controller is alive every few seconds while connected. Every
//! connection carries a freshly sealed last will (see `will`), and a clean
//! shutdown says goodbye through the outbox before it disconnects.
//!
//! Scans (see `scanning`) and door closes wait on the shared state through
//! one-shot and watch channels; the state's lock is held only for short,
//! non-async steps.

mod commands;
mod connection;
mod cycles;
mod outbox;
mod scanning;
mod status;
mod will;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use armory_actors::domain::{CompartmentNo, LockerId, ReaderId, ReaderKind, SiteId};
use armory_actors::protocol::{CounterWindow, DeviceEvent, LockerKey, Topic};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rumqttc::{AsyncClient, NetworkOptions, Publish, QoS};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::hardware::{Compartment, EventCounter};
use crate::report::SimStats;
use crate::SimConfig;

pub(crate) use outbox::{OutboxItem, OutgoingEvent};

/// The firmware version the simulated controllers report.
const FIRMWARE: &str = concat!("armory-device-sim/", env!("CARGO_PKG_VERSION"));

/// MQTT keepalive of every controller.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Requests rumqttc buffers between the tasks and the event loop.
const REQUEST_CAPACITY: usize = 256;

/// What the simulator knows of one locker at start.
#[derive(Clone, Debug)]
pub(crate) struct LockerSpec {
    pub site: SiteId,
    pub id: LockerId,
    pub readers: Vec<(ReaderId, ReaderKind)>,
    /// Whether each compartment holds its weapon; index 0 is compartment 1.
    pub presence: Vec<bool>,
}

/// The door of a cycle closed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DoorClosed {
    at: Instant,
    weapon_present: bool,
}

/// A door cycle as a scan sees it: `None` until the door closes.
type CycleWatch = watch::Receiver<Option<DoorClosed>>;

/// What a reader's display showed for a scan.
#[derive(Clone, Debug)]
pub(crate) struct ReaderAnswer {
    granted: bool,
    reason: String,
    compartment: Option<CompartmentNo>,
    at: Instant,
}

struct PendingScan {
    reader: ReaderId,
    reply: oneshot::Sender<ReaderAnswer>,
}

struct Slot {
    hardware: Compartment,
    cycles: cycles::CycleMatcher<CycleWatch>,
}

/// Everything about a locker that changes, behind one short-held lock.
struct LockerState {
    slots: Vec<Slot>,
    window: CounterWindow,
    /// The counter of this controller's events and of its last wills.
    counter: EventCounter,
    pending_scans: HashMap<Uuid, PendingScan>,
    stats: SimStats,
    rng: StdRng,
}

/// What the tasks of one locker share.
pub(crate) struct Shared {
    site: SiteId,
    id: LockerId,
    key: LockerKey,
    readers: Vec<(ReaderId, ReaderKind)>,
    handling_delay: (Duration, Duration),
    clock: armory_actors::clock::Clock,
    outbox: mpsc::UnboundedSender<OutboxItem>,
    connected: watch::Sender<bool>,
    state: Mutex<LockerState>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, LockerState> {
        // A panic while holding the lock leaves plain counters and maps;
        // carrying on with them is better than stopping the locker.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues an event for the outbox; after shutdown it is dropped.
    fn send_event(&self, topic: Topic, id: Uuid, body: DeviceEvent) {
        let event = Box::new(OutgoingEvent { topic, id, body });
        if self.outbox.send(OutboxItem::Event(event)).is_err() {
            tracing::debug!(locker = %self.id, "outbox closed, event dropped");
        }
    }

    fn controller_topic(&self) -> Topic {
        Topic::ControllerEvent {
            site: self.site.clone(),
            locker: self.id.clone(),
        }
    }

    fn reader_topic(&self, reader: &ReaderId) -> Topic {
        Topic::ReaderEvent {
            site: self.site.clone(),
            locker: self.id.clone(),
            reader: reader.clone(),
        }
    }

    fn online_event(&self) -> DeviceEvent {
        let compartments = self.state().slots.len();
        DeviceEvent::ControllerOnline {
            firmware: FIRMWARE.to_owned(),
            readers: self.readers.iter().map(|(id, _)| id.clone()).collect(),
            compartments: u16::try_from(compartments).unwrap_or(u16::MAX),
        }
    }
}

/// A running locker controller.
pub(crate) struct LockerHandle {
    shared: Arc<Shared>,
    client: AsyncClient,
    tasks: Vec<JoinHandle<()>>,
    connection: Option<JoinHandle<()>>,
}

impl LockerHandle {
    /// Publishes an event as this controller, through its own outbox and
    /// counter (panel reports, tag reads, tamper, faults a test injects).
    pub(crate) fn inject(&self, topic: Topic, body: DeviceEvent) -> Uuid {
        let id = Uuid::new_v4();
        self.shared.send_event(topic, id, body);
        id
    }

    /// Starts the controller's client and tasks; it connects in the
    /// background and announces itself on every ConnAck.
    pub(crate) fn spawn(
        spec: LockerSpec,
        config: &SimConfig,
        shutdown: watch::Receiver<bool>,
        seed: u64,
    ) -> Self {
        let key = config.fleet_secret.locker_key(&spec.id);
        let options = crate::transport::options(
            config.broker,
            &spec.id,
            &key,
            config.tls.as_ref(),
            KEEP_ALIVE,
        );
        let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);

        let slots = spec
            .presence
            .iter()
            .enumerate()
            .map(|(index, present)| Slot {
                hardware: Compartment::new(compartment_no(index), *present),
                cycles: cycles::CycleMatcher::default(),
            })
            .collect();
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        let (connected, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            site: spec.site,
            key,
            id: spec.id,
            readers: spec.readers,
            handling_delay: config.handling_delay,
            clock: config.clock.clone(),
            outbox: outbox_tx,
            connected,
            state: Mutex::new(LockerState {
                slots,
                window: CounterWindow::default(),
                counter: EventCounter::new(),
                pending_scans: HashMap::new(),
                stats: SimStats::default(),
                rng: StdRng::seed_from_u64(seed),
            }),
        });

        let (inbound_tx, inbound_rx) = mpsc::unbounded_channel();
        let connection = tokio::spawn(connection::run(
            eventloop,
            Arc::clone(&shared),
            inbound_tx,
            shutdown.clone(),
            seed,
        ));
        let tasks = vec![
            tokio::spawn(controller(Arc::clone(&shared), client.clone(), inbound_rx)),
            tokio::spawn(outbox::run(Arc::clone(&shared), client.clone(), outbox_rx)),
            tokio::spawn(heartbeat(
                Arc::clone(&shared),
                config.heartbeat_every,
                shutdown,
            )),
        ];

        Self {
            shared,
            client,
            tasks,
            connection: Some(connection),
        }
    }

    /// The locker's id.
    pub(crate) fn id(&self) -> &LockerId {
        &self.shared.id
    }

    /// The locker's readers and their kinds.
    pub(crate) fn readers(&self) -> &[(ReaderId, ReaderKind)] {
        &self.shared.readers
    }

    /// Waits until the controller is connected, subscribed to its commands
    /// and announced (or the deadline passes).
    pub(crate) async fn connected_by(&self, deadline: Instant) -> bool {
        let mut connected = self.shared.connected.subscribe();
        let up = tokio::time::timeout_at(deadline, connected.wait_for(|up| *up)).await;
        matches!(up, Ok(Ok(_)))
    }

    /// The locker's counters so far.
    pub(crate) fn stats(&self) -> SimStats {
        self.shared.state().stats.clone()
    }

    /// Says goodbye and disconnects cleanly: the outbox publishes
    /// `ControllerOffline` after every event queued before, then queues the
    /// DISCONNECT, which the connection task sends before it ends.
    pub(crate) fn request_disconnect(&self) {
        if self.shared.outbox.send(OutboxItem::Farewell).is_ok() {
            return;
        }
        if self.client.try_disconnect().is_err() {
            tracing::debug!(locker = %self.shared.id, "disconnect not queued");
        }
    }

    /// Waits until `deadline` for the DISCONNECT to go out, then stops the
    /// tasks whatever happened.
    pub(crate) async fn stop_by(&mut self, deadline: Instant) {
        if let Some(connection) = self.connection.take() {
            let abort = connection.abort_handle();
            if tokio::time::timeout_at(deadline, connection).await.is_err() {
                abort.abort();
            }
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

/// Message from the connection task to the controller task.
pub(crate) enum Inbound {
    /// A ConnAck: subscribe again and announce.
    Connected,
    /// A publish on a command topic.
    Publish(Publish),
}

/// Subscribes and announces after every ConnAck, and carries out commands.
async fn controller(
    shared: Arc<Shared>,
    client: AsyncClient,
    mut inbound: mpsc::UnboundedReceiver<Inbound>,
) {
    let commands = format!(
        "{}/{}/{}/command/#",
        armory_actors::protocol::topic::ROOT,
        shared.site,
        shared.id
    );
    let service_state = Topic::ServiceState.name();
    while let Some(message) = inbound.recv().await {
        match message {
            Inbound::Connected => {
                for filter in [&commands, &service_state] {
                    if let Err(error) = client.subscribe(filter.as_str(), QoS::AtLeastOnce).await {
                        tracing::warn!(locker = %shared.id, error = %error, "subscribe failed");
                    }
                }
                shared.send_event(
                    shared.controller_topic(),
                    Uuid::new_v4(),
                    shared.online_event(),
                );
                // Only now: a scan queued after this goes out after the
                // SUBSCRIBE, so its outcome cannot reach the broker first.
                shared.connected.send_replace(true);
                tracing::debug!(locker = %shared.id, "controller online");
            }
            Inbound::Publish(publish) if publish.topic == service_state => {
                status::on_service_state(&shared, &publish.payload);
            }
            Inbound::Publish(publish) => commands::on_publish(&shared, publish),
        }
    }
}

/// Sends a heartbeat every `every` while connected: the controller's own,
/// then one on each reader's topic for the readers that answer its polls
/// (a simulated reader always does), as a real controller reports the
/// readers on its bus.
async fn heartbeat(shared: Arc<Shared>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if !*shared.connected.borrow() {
            continue;
        }
        shared.send_event(
            shared.controller_topic(),
            Uuid::new_v4(),
            DeviceEvent::Heartbeat,
        );
        for (reader, _) in &shared.readers {
            let topic = shared.reader_topic(reader);
            shared.send_event(topic, Uuid::new_v4(), DeviceEvent::Heartbeat);
        }
    }
}

/// Compartment number of a slot index (compartments count from 1).
fn compartment_no(index: usize) -> CompartmentNo {
    CompartmentNo::try_from(index + 1).unwrap_or(CompartmentNo::MAX)
}

/// Slot index of a compartment number, if it can be one.
fn slot_index(compartment: CompartmentNo) -> Option<usize> {
    usize::from(compartment).checked_sub(1)
}

/// Which compartments of each locker hold their weapon at start.
pub(crate) fn presence_by_locker(
    agency: &armory_actors::import::AgencyData,
) -> BTreeMap<LockerId, Vec<bool>> {
    let mut presence: BTreeMap<LockerId, Vec<bool>> = agency
        .armory
        .lockers
        .values()
        .map(|locker| (locker.id.clone(), vec![false; locker.compartments.len()]))
        .collect();
    for weapon in agency.armory.weapons.values() {
        let slot = slot_index(weapon.compartment)
            .and_then(|index| presence.get_mut(&weapon.locker)?.get_mut(index));
        if let Some(slot) = slot {
            *slot = weapon.holder.is_none();
        }
    }
    presence
}
