//! The simulator: every configured locker, started and stopped together.
//!
//! [`Simulator::start`] gives each locker of the agency data its own
//! controller and MQTT client and waits until all of them are connected
//! and announced. [`Simulator::scan`] then plays one person at one reader.
//! A `Simulator` is a cheap handle: clones share the same lockers, so a
//! shift can hand one to each of its officers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use armory_actors::clock::Clock;
use armory_actors::domain::{BadgeUid, LockerId, ReaderId, ReaderKind};
use armory_actors::import::AgencyData;
use armory_actors::policy::AccessPolicy;
use armory_actors::protocol::AccessRequest;
use tokio::sync::{watch, RwLock};
use tokio::time::Instant;

use crate::locker::{presence_by_locker, LockerHandle, LockerSpec};
use crate::report::SimStats;
use crate::scan::{Presented, ScanOutcome};
use crate::{SimConfig, SimError};

/// How long shutdown waits for the lockers' DISCONNECT packets to leave.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);

/// A running simulation of every configured locker.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    agency: AgencyData,
    access: AccessPolicy,
    clock: Clock,
    handling_delay: (Duration, Duration),
    outcome_timeout: Duration,
    /// Emptied by shutdown; scans after that fail with `Stopped`.
    lockers: RwLock<BTreeMap<LockerId, LockerHandle>>,
    shutdown: watch::Sender<bool>,
}

impl Simulator {
    /// Connects every locker to the broker and announces it.
    ///
    /// Fails if the data has no locker, or if any locker is not connected
    /// within `config.connect_timeout` (then nothing is left running).
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        if config.agency.armory.lockers.is_empty() {
            return Err(SimError::NoLockers);
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut presence = presence_by_locker(&config.agency);
        let mut lockers = BTreeMap::new();
        for (seed, locker) in (0u64..).zip(config.agency.armory.lockers.values()) {
            let spec = LockerSpec {
                site: locker.site.clone(),
                id: locker.id.clone(),
                readers: locker.reader_ids().collect(),
                presence: presence.remove(&locker.id).unwrap_or_default(),
            };
            let handle = LockerHandle::spawn(spec, &config, shutdown_rx.clone(), seed);
            lockers.insert(locker.id.clone(), handle);
        }
        tracing::info!(lockers = lockers.len(), broker = %config.broker, "lockers starting");

        // Wait for all of them together, so the deadline is one for all.
        let deadline = Instant::now() + config.connect_timeout;
        let mut late = Vec::new();
        for handle in lockers.values() {
            if !handle.connected_by(deadline).await {
                late.push(handle.id().clone());
            }
        }

        let simulator = Simulator {
            inner: Arc::new(Inner {
                agency: config.agency,
                access: config.access,
                clock: config.clock,
                handling_delay: config.handling_delay,
                outcome_timeout: config.outcome_timeout,
                lockers: RwLock::new(lockers),
                shutdown,
            }),
        };
        if let Some(first) = late.first() {
            let error = SimError::ConnectTimeout {
                broker: config.broker,
                count: late.len(),
                first: first.clone(),
                waited: config.connect_timeout,
            };
            simulator.shutdown().await;
            return Err(error);
        }
        tracing::info!("all lockers connected");
        Ok(simulator)
    }

    /// The agency data the simulator runs.
    pub fn agency(&self) -> &AgencyData {
        &self.inner.agency
    }

    /// The access policy the service applies, as the simulator was told.
    pub fn access(&self) -> &AccessPolicy {
        &self.inner.access
    }

    /// The clock the lockers stamp their events with.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The handling delay range people use (door open, holding a weapon).
    pub fn handling_delay(&self) -> (Duration, Duration) {
        self.inner.handling_delay
    }

    /// An officer scans `badge` at a reader, typing `pin` on a keypad
    /// reader (a fingerprint reader reads a matching finger instead), and
    /// asks for `request`. Waits for the outcome and, for a grant, for the
    /// door to open and close.
    pub async fn scan(
        &self,
        locker: &LockerId,
        reader: &ReaderId,
        badge: &BadgeUid,
        pin: Option<&str>,
        request: AccessRequest,
    ) -> Result<ScanOutcome, SimError> {
        let kind = self.reader_kind(locker, reader).await?;
        let presented = Presented::for_reader(kind, badge.clone(), pin);
        self.scan_presented(locker, reader, &presented, request)
            .await
    }

    /// Like [`Simulator::scan`], with exactly the factors given (a missing
    /// PIN, a fingerprint that does not match).
    pub async fn scan_presented(
        &self,
        locker: &LockerId,
        reader: &ReaderId,
        presented: &Presented,
        request: AccessRequest,
    ) -> Result<ScanOutcome, SimError> {
        let lockers = self.inner.lockers.read().await;
        let handle = lockers.get(locker).ok_or_else(|| self.missing(locker))?;
        handle
            .scan(reader, presented, request, self.inner.outcome_timeout)
            .await
    }

    /// Publishes `body` on `topic` as `locker`'s controller would, sealed
    /// and counted in order with its other events: panel reports, tag
    /// reads, a tamper switch, or a door event a test wants to fake.
    pub async fn inject(
        &self,
        locker: &LockerId,
        topic: armory_actors::protocol::Topic,
        body: armory_actors::protocol::DeviceEvent,
    ) -> Result<uuid::Uuid, SimError> {
        let lockers = self.inner.lockers.read().await;
        let handle = lockers.get(locker).ok_or_else(|| self.missing(locker))?;
        Ok(handle.inject(topic, body))
    }

    /// The kind of a reader.
    pub async fn reader_kind(
        &self,
        locker: &LockerId,
        reader: &ReaderId,
    ) -> Result<ReaderKind, SimError> {
        let lockers = self.inner.lockers.read().await;
        let handle = lockers.get(locker).ok_or_else(|| self.missing(locker))?;
        handle
            .readers()
            .iter()
            .find(|(id, _)| id == reader)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| SimError::UnknownReader {
                locker: locker.clone(),
                reader: reader.clone(),
            })
    }

    /// The hardware counters, summed over all lockers.
    pub async fn stats(&self) -> SimStats {
        let lockers = self.inner.lockers.read().await;
        let mut total = SimStats::default();
        for handle in lockers.values() {
            total.merge(&handle.stats());
        }
        total
    }

    /// Disconnects every locker cleanly and stops its tasks. Scans still
    /// running finish first; later ones fail with [`SimError::Stopped`].
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let mut lockers = self.inner.lockers.write().await;
        for handle in lockers.values() {
            handle.request_disconnect();
        }
        let deadline = Instant::now() + DISCONNECT_GRACE;
        for handle in lockers.values_mut() {
            handle.stop_by(deadline).await;
        }
        lockers.clear();
        tracing::info!("lockers stopped");
    }

    fn missing(&self, locker: &LockerId) -> SimError {
        if *self.inner.shutdown.borrow() {
            SimError::Stopped
        } else {
            SimError::UnknownLocker {
                locker: locker.clone(),
            }
        }
    }
}
