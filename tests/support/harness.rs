//! A whole armory for one test: the service on free ports in a temp dir,
//! the demo agency with cheap PIN hashes, the simulated lockers, and an
//! observer subscribed to `armory/#` that records every message with its
//! retain flag. The observer logs in as the broker user [`OBSERVER_USER`],
//! which the test configuration defines with a cheap hash.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armory::config::Config;
use armory::serve::Service;
use armory::store::{AuditFilter, AuditRow, Database};
use armory_actors::clock::Clock;
use armory_actors::domain::{
    CompartmentNo, LockerId, Person, PersonStatus, ReaderId, Role, WeaponClass,
};
use armory_actors::import::AgencyData;
use armory_device_sim::{SimConfig, Simulator};
use jiff::Timestamp;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::Notify;

/// The instant the sample data was made against.
pub const DATA_NOW: &str = "2026-12-03T14:00:00Z";

/// The broker user the observer (and mosquitto clients) log in as.
pub const OBSERVER_USER: &str = "observer";

/// Its password.
pub const OBSERVER_PASSWORD: &str = "observer-password-for-tests";

/// The `[[broker.users]]` entry of [`OBSERVER_USER`], hashed cheaply.
pub fn observer_user_toml() -> String {
    let hash = armory::broker::auth::hash_with(OBSERVER_PASSWORD, 8, 1).expect("argon2 hashes");
    format!("[[broker.users]]\nname = \"{OBSERVER_USER}\"\npassword_hash = \"{hash}\"\n")
}

/// The repository's demo agency.
pub fn demo_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo")
}

/// One message seen on the bus.
#[derive(Clone, Debug)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// Records every message on a filter.
#[derive(Clone)]
pub struct Observer {
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    client: AsyncClient,
}

impl Observer {
    pub async fn start(broker: std::net::SocketAddr, id: &str, filter: &str) -> Observer {
        let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
        options.set_credentials(OBSERVER_USER, OBSERVER_PASSWORD);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(64 * 1024, 64 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let subscribed = Arc::new(Notify::new());

        let (record, wake, ready) = (seen.clone(), arrived.clone(), subscribed.clone());
        let subscriber = client.clone();
        let filter = filter.to_owned();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = subscriber.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => ready.notify_one(),
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        record.lock().expect("observer lock").push(Seen {
                            topic: publish.topic.clone(),
                            payload: publish.payload.to_vec(),
                            retain: publish.retain,
                        });
                        wake.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), subscribed.notified())
            .await
            .expect("observer subscribed");
        Observer {
            seen,
            arrived,
            client,
        }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().expect("observer lock").clone()
    }

    pub fn matching(&self, predicate: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.all()
            .into_iter()
            .filter(|seen| predicate(seen))
            .collect()
    }

    /// Waits (10 s at most) until `predicate` holds for the messages seen.
    pub async fn wait_until(&self, what: &str, predicate: impl Fn(&[Seen]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            if predicate(&self.all()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    pub async fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .expect("publish queued");
    }

    pub async fn stop(&self) {
        let _ = self.client.disconnect().await;
    }
}

/// A running armory with simulated lockers.
pub struct TestArmory {
    pub dir: tempfile::TempDir,
    pub service: Service,
    pub sim: Simulator,
    pub observer: Observer,
    pub clock: Clock,
    pub agency: AgencyData,
}

/// The test configuration: free ports, temp state, cheap PIN hashes.
pub fn test_config(state_dir: &Path) -> Config {
    test_config_with(state_dir, "")
}

/// The test configuration with more TOML appended (an `[access]` table).
pub fn test_config_with(state_dir: &Path, extra: &str) -> Config {
    let settings = TestSettings {
        extra,
        ..TestSettings::default()
    };
    let text = config_text(state_dir, &settings);
    Config::from_str_at(&text, state_dir).expect("test configuration is valid")
}

/// What tests vary in their configuration.
pub struct TestSettings<'a> {
    /// The broker's plain listener.
    pub broker_listen: String,
    /// The metrics listener, or `None` for no metrics endpoint.
    pub metrics_listen: Option<String>,
    /// How long a granted opening waits for its door.
    pub unlock_window_seconds: u32,
    /// Whether the observer's broker login is defined (without it, the
    /// demo adds its published dashboard login).
    pub observer_user: bool,
    /// More TOML appended, such as an `[access]` table.
    pub extra: &'a str,
}

impl Default for TestSettings<'_> {
    fn default() -> Self {
        TestSettings {
            broker_listen: "127.0.0.1:0".to_owned(),
            metrics_listen: None,
            unlock_window_seconds: 30,
            observer_user: true,
            extra: "",
        }
    }
}

/// The test configuration as TOML: the demo agency, state in `state_dir`,
/// cheap PIN hashes, and what `settings` say.
pub fn config_text(state_dir: &Path, settings: &TestSettings<'_>) -> String {
    let metrics = match &settings.metrics_listen {
        Some(listen) => format!("enabled = true\nlisten = \"{listen}\""),
        None => "enabled = false\nlisten = \"127.0.0.1:0\"".to_owned(),
    };
    let users = if settings.observer_user {
        observer_user_toml()
    } else {
        String::new()
    };
    format!(
        r#"
[service]
state_dir = "{state}"
[broker]
listen = "{broker}"
max_connections = 200
[metrics]
{metrics}
[agency]
data_dir = "{data}"
[timing]
unlock_window_seconds = {unlock_window}
door_open_limit_seconds = 120
command_lifetime_seconds = 5
[security]
pin_hash_memory_kib = 64
pin_hash_iterations = 1
{users}
{extra}
"#,
        state = state_dir.display(),
        broker = settings.broker_listen,
        data = demo_data_dir().display(),
        unlock_window = settings.unlock_window_seconds,
        extra = settings.extra,
    )
}

/// Writes the test configuration into `dir` as `armory.toml`, for tests
/// that run the `armory` binary; its state goes to `dir/state`.
pub fn write_config_file(dir: &Path, settings: &TestSettings<'_>) -> PathBuf {
    let path = dir.join("armory.toml");
    let text = config_text(&dir.join("state"), settings);
    std::fs::write(&path, text).expect("the configuration is written");
    path
}

/// A loopback port that was free a moment ago, for a listener a test must
/// know in advance (an outside client, a restart on the same port).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback binds");
    probe
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

impl TestArmory {
    /// Starts everything with the wall clock fixed at the data's instant.
    pub async fn start() -> TestArmory {
        let now: Timestamp = DATA_NOW.parse().expect("valid instant");
        Self::start_at(Clock::manual(now)).await
    }

    pub async fn start_at(clock: Clock) -> TestArmory {
        Self::start_with(clock, "").await
    }

    /// Starts with more configuration appended, e.g. an `[access]` table.
    pub async fn start_with(clock: Clock, extra: &str) -> TestArmory {
        let dir = tempfile::tempdir().expect("temp dir");
        // The service creates its state folder owner-only.
        let config = test_config_with(&dir.path().join("state"), extra);
        let service = Service::start(&config, clock.clone())
            .await
            .expect("service starts");
        let observer = Observer::start(service.broker_address(), "test-observer", "armory/#").await;

        let agency = AgencyData::load_dir(&demo_data_dir()).expect("demo data imports");
        let mut sim_config = SimConfig::new(
            service.broker_address(),
            service.fleet_secret().clone(),
            agency.clone(),
        );
        sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
        sim_config.clock = clock.clone();
        let sim = Simulator::start(sim_config)
            .await
            .expect("simulator starts");

        // Every controller has been heard: its announcement is handled, so
        // an event a test seals from now on counts above it.
        let lockers = agency.armory.lockers.len();
        observer
            .wait_until("every controller online", |seen| {
                let online: std::collections::BTreeSet<_> = seen
                    .iter()
                    .filter(|s| s.topic.ends_with("/state") && s.json()["controller"] == "online")
                    .map(|s| s.topic.clone())
                    .collect();
                online.len() == lockers
            })
            .await;
        TestArmory {
            dir,
            service,
            sim,
            observer,
            clock,
            agency,
        }
    }

    pub fn database(&self) -> Database {
        Database::open_reader(self.service.database_path()).expect("store opens for reading")
    }

    pub fn audit(&self, filter: &AuditFilter) -> Vec<AuditRow> {
        self.database().audit_rows(filter).expect("audit query")
    }

    /// Every audit row about the lockers (the service's own rows, such as
    /// the configuration it started with, are left out).
    pub fn all_audit(&self) -> Vec<AuditRow> {
        let mut rows = self.audit(&AuditFilter::default());
        rows.retain(|row| row.entry.site.as_str() != "service");
        rows
    }

    /// The service's own audit rows (configuration, imports).
    pub fn service_audit(&self) -> Vec<AuditRow> {
        self.audit(&AuditFilter {
            site: Some("service".into()),
            ..AuditFilter::default()
        })
    }

    /// Waits until `count` activity messages of `kind` have been seen.
    pub async fn wait_activity(&self, kind: &str, count: usize) {
        self.observer
            .wait_until(kind, |seen| {
                seen.iter()
                    .filter(|s| s.topic.ends_with("/activity") && s.json()["kind"] == kind)
                    .count()
                    >= count
            })
            .await;
    }

    /// Publishes a device event as `locker`'s controller would (through
    /// the simulator, in order with its other events); returns the
    /// envelope's id and its bytes as seen on the bus, to deliver again.
    pub async fn send_event(
        &self,
        locker: &str,
        topic: &armory_actors::protocol::Topic,
        body: armory_actors::protocol::DeviceEvent,
    ) -> (uuid::Uuid, Vec<u8>) {
        let id = self
            .sim
            .inject(&LockerId::from(locker), topic.clone(), body)
            .await
            .expect("the simulator runs that locker");
        let name = topic.name();
        let wanted = id.to_string();
        self.observer
            .wait_until("the injected event", |seen| {
                seen.iter()
                    .any(|s| s.topic == name && s.json()["id"] == wanted.as_str())
            })
            .await;
        let bytes = self
            .observer
            .matching(|s| s.topic == name && s.json()["id"] == wanted.as_str())
            .remove(0)
            .payload;
        (id, bytes)
    }

    /// Alerts of `kind` seen on the bus.
    pub fn alerts(&self, kind: &str) -> Vec<Seen> {
        self.observer
            .matching(|s| s.topic.ends_with("/alert") && s.json()["kind"] == kind)
    }

    /// Unlock commands seen on the bus.
    pub fn unlock_commands(&self) -> Vec<Seen> {
        self.observer.matching(|seen| {
            seen.topic.contains("/command/compartment/") && seen.json()["body"]["type"] == "unlock"
        })
    }

    /// An active officer with a PIN and a valid certification for `class`,
    /// skipping `exclude`.
    pub fn officer_for_class(
        &self,
        locker: &str,
        class: WeaponClass,
        exclude: &[Person],
    ) -> (Person, WeaponClass, String) {
        self.find_officer(locker, Some(class), exclude)
    }

    /// An active officer with a PIN and a valid certification for a class
    /// that has an available weapon in `locker`, skipping `exclude`.
    pub fn officer_for(&self, locker: &str, exclude: &[Person]) -> (Person, WeaponClass, String) {
        self.find_officer(locker, None, exclude)
    }

    fn find_officer(
        &self,
        locker: &str,
        only: Option<WeaponClass>,
        exclude: &[Person],
    ) -> (Person, WeaponClass, String) {
        let now = self.clock.now();
        let locker_id = LockerId::from(locker);
        let classes: Vec<WeaponClass> = self
            .agency
            .armory
            .weapons
            .values()
            .filter(|w| w.locker == locker_id)
            .filter(|w| w.status == armory_actors::domain::ServiceStatus::InService)
            .map(|w| w.class)
            .filter(|class| only.is_none_or(|only| only == *class))
            .collect();
        for person in self.agency.personnel.people.values() {
            if person.status != PersonStatus::Active || person.role != Role::Officer {
                continue;
            }
            if exclude.iter().any(|p| p.employee_id == person.employee_id) {
                continue;
            }
            let Some((_, pin)) = self
                .agency
                .pins
                .iter()
                .find(|(e, _)| *e == person.employee_id)
            else {
                continue;
            };
            let certs = self.agency.personnel.certifications_of(&person.employee_id);
            for class in &classes {
                if certs
                    .iter()
                    .any(|c| c.class == *class && now <= c.expires_at)
                {
                    return (person.clone(), *class, pin.clone());
                }
            }
        }
        panic!("no certified officer for {locker}");
    }

    /// An active armorer of the demo agency, with their PIN.
    pub fn armorer(&self) -> (Person, String) {
        let armorer = self
            .agency
            .personnel
            .people
            .values()
            .find(|p| {
                p.role == Role::Armorer
                    && p.status == PersonStatus::Active
                    && self.agency.pins.iter().any(|(e, _)| *e == p.employee_id)
            })
            .cloned()
            .expect("the demo roster has an active armorer with a PIN");
        let pin = self.pin_of(&armorer);
        (armorer, pin)
    }

    pub fn pin_of(&self, person: &Person) -> String {
        self.agency
            .pins
            .iter()
            .find(|(e, _)| *e == person.employee_id)
            .map(|(_, pin)| pin.clone())
            .expect("person has a PIN")
    }

    pub fn reader(id: &str) -> ReaderId {
        ReaderId::from(id)
    }

    pub fn compartment_of_outcome(outcome: &serde_json::Value) -> Option<CompartmentNo> {
        outcome["body"]["compartment"]
            .as_u64()
            .map(|n| n as CompartmentNo)
    }

    /// Device events the service recognised as a second copy of one it
    /// had (a QoS 1 redelivery), since the process started.
    pub fn duplicate_events(&self) -> u64 {
        counter(
            &self.service.render_metrics(),
            "armory_device_events_duplicate_total",
            "",
        )
    }

    /// Granted audit rows, each of which must have sent one unlock.
    pub fn granted_rows(&self) -> usize {
        self.all_audit()
            .iter()
            .filter(|row| row.entry.decision == armory_actors::ports::Decision::Granted)
            .count()
    }

    /// Write ahead, one for one: every granted row has sent exactly one
    /// unlock command and no unlock went out without its row. A row is
    /// durable before its command leaves, so the commands may lag the
    /// rows a moment, never lead them.
    pub async fn assert_grants_match_unlocks(&self) {
        let granted = self.granted_rows();
        let secret = self.service.fleet_secret().clone();
        self.observer
            .wait_until("an unlock command for every granted row", |seen| {
                service_unlocks(&secret, seen).len() >= granted
            })
            .await;
        assert_eq!(
            self.granted_rows(),
            service_unlocks(&secret, &self.observer.all()).len(),
            "granted audit rows and unlock commands differ"
        );
    }

    /// Stops everything, first checking that granted rows and unlock
    /// commands matched one for one over the whole test.
    pub async fn stop(self) {
        self.sim.shutdown().await;
        self.assert_grants_match_unlocks().await;
        self.observer.stop().await;
        self.service.stop().await;
    }
}

/// The ids of the unlock commands the service itself sent: sealed under
/// the locker's key (a test's forgeries are not) and counted once each (a
/// test's replays repeat an id).
pub fn service_unlocks(
    secret: &armory_actors::protocol::FleetSecret,
    seen: &[Seen],
) -> std::collections::BTreeSet<uuid::Uuid> {
    use armory_actors::protocol::{Command, SealedEnvelope};

    let mut ids = std::collections::BTreeSet::new();
    for message in seen {
        if !message.topic.contains("/command/compartment/") {
            continue;
        }
        let Some(locker) = message.topic.split('/').nth(3) else {
            continue;
        };
        let Some(made_at) = message.json()["at"]
            .as_str()
            .and_then(|at| at.parse::<Timestamp>().ok())
        else {
            continue;
        };
        let key = secret.locker_key(&LockerId::from(locker));
        let opened =
            SealedEnvelope::<Command>::open(&key, &message.topic, &message.payload, made_at);
        if let Ok(envelope) = opened {
            if matches!(envelope.body, Command::Unlock { .. }) {
                ids.insert(envelope.id);
            }
        }
    }
    ids
}

/// The sum of one counter's series in Prometheus text, over the lines
/// whose labels contain `label` (`""` for all of them).
pub fn counter(metrics: &str, name: &str, label: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}
