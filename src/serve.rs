//! Starting and stopping the whole service: store, broker, actor tree, bus.
//!
//! [`Service::start`] takes the configuration and a clock and returns once
//! everything runs: the store is open and migrated (and seeded from the
//! agency files on first start), the embedded broker listens, every actor
//! has published its retained state, and the service's MQTT client is
//! subscribed to device events. Tests start it on free ports in a temp dir.
//!
//! The state folder must be the service user's alone: it is created
//! owner-only, and an existing one that group or others may enter is
//! refused, as is a key file they may read. The store file is created
//! owner-only before SQLite opens it, so its journal files follow suit.
//!
//! Before anything else starts, the service locks its state folder
//! ([`StateLock`]), so a second service on the same store fails at once;
//! and before the actors start, it verifies the audit trail's hash chain
//! ([`chain_check`]), serving on but raising the alarm if it is broken.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use armory_actors::clock::Clock;
use armory_actors::directory::{Directory, RouteError};
use armory_actors::domain::{Armory, Personnel};
use armory_actors::import::AgencyData;
use armory_actors::ports::{Bus, Store};
use armory_actors::protocol::{
    topic, FleetSecret, ServiceStatePayload, Topic, SCHEMA_VERSION, SERVICE_MQTT_USER,
};
use armory_actors::rules::{self, PinHashCost};
use armory_actors::services::{CommandCounter, PersonnelHandle, Services};
use armory_actors::tree::{self, ArmoryMsg};
use ractor::ActorRef;

use crate::broker::auth::BrokerAuth;
use crate::broker::tls::TlsSettings;
use crate::broker::{BrokerSettings, EmbeddedBroker};
use crate::config::Config;
use crate::mqtt::{Credentials, LinkSettings, MqttLink};
use crate::state_lock::StateLock;
use crate::store::Database;

pub mod chain_check;

/// Capacity of the queue from actors to the MQTT publisher; it must hold
/// the retained state published at start-up (one message per weapon,
/// compartment and locker) with room to spare.
const BUS_CAPACITY: usize = 16 * 1024;

/// A running service.
pub struct Service {
    broker: EmbeddedBroker,
    link: MqttLink,
    root: ActorRef<ArmoryMsg>,
    directory: Directory,
    store: Store,
    database_path: PathBuf,
    fleet_secret: FleetSecret,
    personnel: PersonnelHandle,
    metrics: crate::metrics::Installed,
    summary: Summary,
    /// Set once [`Service::stop`] begins: events for lockers already
    /// stopped (the lockers' own goodbyes) are expected then, not faults.
    stopping: Arc<AtomicBool>,
    _personnel_watch: crate::personnel::PersonnelWatch,
    audit_chain: chain_check::ChainCheck,
    /// Declared last so it is dropped last: the folder stays locked until
    /// everything above has let go of it.
    _state_lock: StateLock,
}

/// What the service runs, for the start-up line and for callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Sites.
    pub sites: usize,
    /// Lockers.
    pub lockers: usize,
    /// Weapons.
    pub weapons: usize,
    /// People on the roster.
    pub people: usize,
}

impl Service {
    /// Starts everything; see the module documentation.
    pub async fn start(config: &Config, clock: Clock) -> anyhow::Result<Service> {
        // Locked before the broker binds: a second service fails on the
        // folder, not on a port or, worse, beside the first.
        let state_lock = lock_state_dir(config)?;
        let fleet_secret = load_fleet_secret(config, &clock)?;
        let broker = EmbeddedBroker::start(&broker_settings(config, &fleet_secret, &clock)).await?;
        Self::start_locked(config, clock, broker, state_lock).await
    }

    /// Starts everything on a broker that is already running (started
    /// from [`broker_settings`]), as a service does whose broker outlives
    /// it.
    pub async fn start_on(
        config: &Config,
        clock: Clock,
        broker: EmbeddedBroker,
    ) -> anyhow::Result<Service> {
        let state_lock = lock_state_dir(config)?;
        Self::start_locked(config, clock, broker, state_lock).await
    }

    async fn start_locked(
        config: &Config,
        clock: Clock,
        broker: EmbeddedBroker,
        state_lock: StateLock,
    ) -> anyhow::Result<Service> {
        let state_dir = config.resolved_state_dir();
        let fleet_secret = load_fleet_secret(config, &clock)?;

        let metrics_listen = config.metrics.enabled.then_some(config.metrics.listen);
        let metrics = crate::metrics::install(metrics_listen)?;

        let database_path = state_dir.join("armory.sqlite3");
        create_private_file(&database_path)?;
        let mut database = Database::open(&database_path)
            .with_context(|| format!("opening the store {}", database_path.display()))?;
        if database.is_empty()? {
            seed(
                &mut database,
                &config.resolved_data_dir(),
                config.pin_hash_cost(),
            )
            .await?;
        }
        let audit_chain = chain_check::verify(&database)
            .with_context(|| format!("verifying the audit trail in {}", database_path.display()))?;
        let configuration_change =
            database.note_configuration(config.fingerprint(), clock.now())?;
        let armory = database.load_armory()?;
        crate::config::check_access_references(config, &armory)?;
        let personnel = database.load_personnel()?;
        let summary = Summary {
            sites: armory.sites.len(),
            lockers: armory.lockers.len(),
            weapons: armory.weapons.len(),
            people: personnel.people.len(),
        };

        let (store, requests) = Store::channel(1024);
        crate::store::spawn_writer(database, requests)?;
        if let Some(previous) = configuration_change {
            audit_configuration(&store, &clock, config.fingerprint(), previous).await?;
        }

        let (bus, outbound) = Bus::channel(BUS_CAPACITY);
        let personnel = PersonnelHandle::new(personnel);
        let services = Services {
            bus,
            store: store.clone(),
            clock: clock.clone(),
            personnel: personnel.clone(),
            fleet_secret: fleet_secret.clone(),
            timing: config.timing.actor_timing(),
            commands: CommandCounter::starting_at(clock.now().as_microsecond().max(0) as u64),
            policy: std::sync::Arc::new(config.access.clone()),
            maintenance: std::sync::Arc::new(config.maintenance.clone()),
        };
        let personnel_watch = crate::personnel::PersonnelWatch::spawn(
            crate::personnel::WatchSettings::from_config(config, &database_path, clock.clone()),
            personnel.clone(),
            services.bus.clone(),
        )?;
        let (root, directory) = tree::start(armory, services).await?;

        let offline = service_state("offline", &summary);
        let link_settings = LinkSettings {
            broker: broker.address(),
            client_id: format!("{SERVICE_MQTT_USER}-{}", std::process::id()),
            credentials: Credentials {
                user: SERVICE_MQTT_USER.to_owned(),
                password: fleet_secret.service_mqtt_password(),
            },
            subscriptions: vec![topic::DEVICE_EVENTS_FILTER.to_owned()],
            last_will: Some((Topic::ServiceState.name(), offline)),
        };
        let routes = directory.clone();
        let stopping = Arc::new(AtomicBool::new(false));
        let winding_down = Arc::clone(&stopping);
        let link = MqttLink::start(link_settings, outbound, move |topic, payload| match routes
            .route(&topic, payload)
        {
            Ok(()) => {}
            Err(error @ RouteError::LockerDown { .. }) if winding_down.load(Ordering::SeqCst) => {
                tracing::debug!(%error, "event after its locker stopped");
            }
            Err(error) => {
                metrics::counter!(
                    "armory_device_events_rejected_total",
                    "reason" => error.code()
                )
                .increment(1);
                tracing::warn!(reason = error.code(), %error, "message not routed");
            }
        });
        link.wait_subscribed(std::time::Duration::from_secs(10))
            .await?;
        let online = service_state("online", &summary);
        link.publish_now(&Topic::ServiceState.name(), online, true)
            .await;
        if let chain_check::ChainCheck::Broken { seq, detail } = &audit_chain {
            chain_check::report_broken(&store, &link, &clock, *seq, detail).await;
        }

        tracing::info!(
            sites = summary.sites,
            lockers = summary.lockers,
            weapons = summary.weapons,
            people = summary.people,
            broker = %broker.address(),
            broker_tls = ?broker.tls_address(),
            store = %database_path.display(),
            "armory running"
        );
        Ok(Service {
            broker,
            link,
            root,
            directory,
            store,
            database_path,
            fleet_secret,
            personnel,
            metrics,
            summary,
            stopping,
            _personnel_watch: personnel_watch,
            audit_chain,
            _state_lock: state_lock,
        })
    }

    /// The broker's address.
    pub fn broker_address(&self) -> SocketAddr {
        self.broker.address()
    }

    /// The broker's TLS listener, if configured.
    pub fn broker_tls_address(&self) -> Option<SocketAddr> {
        self.broker.tls_address()
    }

    /// The store file.
    pub fn database_path(&self) -> &Path {
        &self.database_path
    }

    /// The fleet secret, for a simulator running in the same process.
    pub fn fleet_secret(&self) -> &FleetSecret {
        &self.fleet_secret
    }

    /// What the service runs.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The routing directory (lockers running).
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The personnel snapshot handle.
    pub fn personnel(&self) -> &PersonnelHandle {
        &self.personnel
    }

    /// The store's write handle.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the start-up check of the audit trail's hash chain found.
    pub fn audit_chain(&self) -> &chain_check::ChainCheck {
        &self.audit_chain
    }

    /// The metrics as Prometheus text.
    pub fn render_metrics(&self) -> String {
        self.metrics.handle.render()
    }

    /// Where `/metrics` is served (port 0 resolved), if it is; in a
    /// process running several services, the first one's endpoint.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.address
    }

    /// Resolves if the embedded broker stops.
    pub async fn broker_failed(&mut self) -> anyhow::Error {
        self.broker.wait_failed().await.into()
    }

    /// Stops the service: offline status, clean disconnect, actors stopped.
    pub async fn stop(self) {
        // Actors first, so nothing they publish on the way out is lost;
        // then the offline status and a clean disconnect.
        self.stopping.store(true, Ordering::SeqCst);
        let stopped = self
            .root
            .stop_and_wait(
                Some("service stopping".to_owned()),
                Some(Duration::from_secs(5)),
            )
            .await;
        if let Err(error) = stopped {
            tracing::warn!(%error, "actors did not stop in time");
        }
        let offline = service_state("offline", &self.summary);
        self.link
            .publish_now(&Topic::ServiceState.name(), offline, true)
            .await;
        self.link.stop().await;
        tracing::info!("armory stopped");
    }
}

/// Writes a started-with-a-new-configuration row to the audit trail. The
/// row's place is the service itself (`service`); its reason says whether
/// this is the first configuration or a change.
async fn audit_configuration(
    store: &Store,
    clock: &Clock,
    fingerprint: &str,
    previous: Option<String>,
) -> anyhow::Result<()> {
    let reason = if previous.is_some() {
        "configuration_changed"
    } else {
        "configuration_loaded"
    };
    let entry = crate::store::service_audit_entry(
        armory_actors::ports::AuditAction::ConfigurationChange,
        reason,
        None,
        clock.now(),
    );
    store.commit(entry, None).await?;
    tracing::info!(
        reason,
        sha256 = &fingerprint[..12.min(fingerprint.len())],
        previous = previous
            .as_deref()
            .map(|p| &p[..12.min(p.len())])
            .unwrap_or("-"),
        "configuration recorded in the audit trail"
    );
    Ok(())
}

fn service_state(status: &str, summary: &Summary) -> Vec<u8> {
    let payload = ServiceStatePayload {
        v: SCHEMA_VERSION,
        status: status.to_owned(),
        lockers: summary.lockers as u32,
        weapons: summary.weapons as u32,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    serde_json::to_vec(&payload).expect("the status payload is plain data")
}

/// First start: import the agency files and enrol their PINs.
async fn seed(database: &mut Database, data_dir: &Path, cost: PinHashCost) -> anyhow::Result<()> {
    tracing::info!(data = %data_dir.display(), "empty store; importing the agency files");
    let agency = AgencyData::load_dir(data_dir).map_err(|errors| {
        anyhow::anyhow!(
            "the agency files in {} do not import:\n{errors}",
            data_dir.display()
        )
    })?;
    let AgencyData {
        armory,
        mut personnel,
        pins,
    } = agency;

    personnel.pin_hashes = hash_pins(pins, cost).await?;
    database.seed(&armory, &personnel)?;
    log_counts(&armory, &personnel);
    Ok(())
}

/// Hashes enrolled PINs on every core; argon2 is slow on purpose.
async fn hash_pins(
    pins: Vec<(armory_actors::domain::EmployeeId, String)>,
    cost: PinHashCost,
) -> anyhow::Result<std::collections::BTreeMap<armory_actors::domain::EmployeeId, String>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = pins.len().div_ceil(workers).max(1);
    let mut tasks = Vec::new();
    for part in pins.chunks(chunk) {
        let part = part.to_vec();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|(employee, pin)| {
                    rules::hash_pin(&pin, cost)
                        .map(|hash| (employee.clone(), hash))
                        .map_err(|error| anyhow::anyhow!("PIN of {employee}: {error}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        }));
    }
    let mut hashes = std::collections::BTreeMap::new();
    for task in tasks {
        hashes.extend(task.await??);
    }
    Ok(hashes)
}

fn log_counts(armory: &Armory, personnel: &Personnel) {
    tracing::info!(
        sites = armory.sites.len(),
        lockers = armory.lockers.len(),
        weapons = armory.weapons.len(),
        people = personnel.people.len(),
        pins = personnel.pin_hashes.len(),
        "agency imported"
    );
}

/// The fleet secret from the state folder (made on first start), with the
/// retired one while its grace period lasts.
pub fn load_fleet_secret(config: &Config, clock: &Clock) -> anyhow::Result<FleetSecret> {
    let state_dir = config.resolved_state_dir();
    create_private_dir(&state_dir)?;
    let current = crate::keyfile::load_or_create(&state_dir.join(crate::keyfile::FLEET_KEY))?;
    let retired_path = state_dir.join(crate::keyfile::RETIRED_FLEET_KEY);
    let grace = jiff::SignedDuration::try_from(config.security.retired_key_grace)
        .unwrap_or(jiff::SignedDuration::MAX);
    let Some(retired) = crate::keyfile::load_retired(&retired_path)? else {
        return Ok(current);
    };
    let until = armory_actors::protocol::seal::later_by(retired.retired_at, grace);
    if clock.now() > until {
        tracing::info!(path = %retired_path.display(), %until, "retired fleet secret has expired");
        return Ok(current);
    }
    tracing::info!(%until, "retired fleet secret accepted on incoming events until");
    Ok(current.with_retired(&retired.secret, until))
}

/// Makes sure the state folder exists and is private, then locks it for
/// this service's life.
fn lock_state_dir(config: &Config) -> anyhow::Result<StateLock> {
    let state_dir = config.resolved_state_dir();
    create_private_dir(&state_dir)?;
    Ok(StateLock::acquire(&state_dir)?)
}

/// The broker's settings: listeners, and logins for the lockers and the
/// service of `fleet_secret` and for the configured users.
pub fn broker_settings(
    config: &Config,
    fleet_secret: &FleetSecret,
    clock: &Clock,
) -> BrokerSettings {
    let auth = BrokerAuth::new(
        fleet_secret.clone(),
        config.broker.users.clone(),
        clock.clone(),
    );
    let tls = config.broker.tls.as_ref().map(|tls| TlsSettings {
        listen: tls.listen,
        cert: config.resolve(&tls.cert),
        key: config.resolve(&tls.key),
        client_ca: tls.client_ca.as_ref().map(|ca| config.resolve(ca)),
    });
    BrokerSettings {
        listen: config.broker.listen,
        max_connections: config.broker.max_connections,
        auth,
        tls,
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the state folder {}", dir.display()))?;

    // An existing folder keeps its mode; one others may enter is refused.
    crate::keyfile::check_state_dir(dir)?;
    Ok(())
}

/// Creates `path` empty and owner-only if it does not exist yet.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}
