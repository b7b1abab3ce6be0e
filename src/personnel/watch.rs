//! The running service's watch on personnel: generation polling, reload,
//! the retained personnel topic, and the inbox.
//!
//! [`PersonnelWatch::spawn`] starts one OS thread (SQLite calls block, and
//! this keeps them off the async executor). Every period it first imports
//! what settled in the inbox, if one is configured, then reads the store's
//! personnel generation through its own read-only connection. When the
//! generation moved, whoever moved it (the CLI, the inbox, another
//! process), it loads the whole personnel in one read transaction, swaps it
//! into the [`PersonnelHandle`] the readers decide with, logs a summary and
//! publishes [`PersonnelPayload`] retained on `armory/v1/service/personnel`.
//! The first poll always loads and publishes, so nothing committed between
//! the service's start-up read and the thread's start is missed.
//!
//! A store error is logged and retried at the next period; the personnel
//! in force stays as it was. The thread ends when the [`PersonnelWatch`]
//! is dropped, at its next wake-up.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use armory_actors::clock::Clock;
use armory_actors::domain::Personnel;
use armory_actors::ports::Bus;
use armory_actors::protocol::{Topic, SCHEMA_VERSION};
use armory_actors::services::PersonnelHandle;
use jiff::Timestamp;

use super::inbox::Inbox;
use super::removals::RemovalLimit;
use super::report::PersonnelDiff;
use super::PersonnelError;
use crate::config::Config;
use crate::store::Database;

/// What the watch needs to know.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    /// The store file.
    pub database: PathBuf,
    /// The watched inbox, if any.
    pub inbox: Option<PathBuf>,
    /// How often to look.
    pub period: Duration,
    /// How many people a roster in the inbox may remove, or a training
    /// export take a valid certification from; one that goes beyond is
    /// rejected (the inbox has no override).
    pub removal_limit: RemovalLimit,
    /// The instant of audit rows and payloads.
    pub clock: Clock,
}

impl WatchSettings {
    /// The settings of `config` for the store at `database`.
    pub fn from_config(config: &Config, database: &Path, clock: Clock) -> WatchSettings {
        WatchSettings {
            database: database.to_owned(),
            inbox: config.resolved_inbox_dir(),
            period: config.agency.poll_interval,
            removal_limit: config.agency.roster_removal_limit,
            clock,
        }
    }
}

/// The retained payload of `armory/v1/service/personnel`: the personnel
/// in force and what its last change did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonnelPayload {
    /// Schema version.
    pub v: u32,
    /// The store's personnel generation now in force.
    pub generation: u64,
    /// People on the roster.
    pub people: u32,
    /// Certifications on record, expired ones included.
    pub certifications: u32,
    /// People with an enrolled PIN.
    pub pins: u32,
    /// When the service took this generation into force.
    pub changed_at: Timestamp,
    /// People added since the previous generation in force.
    pub added: u32,
    /// People removed since then.
    pub removed: u32,
    /// People whose record, certifications or PIN changed since then.
    pub changed: u32,
}

/// The running watch; dropping it stops the thread at its next wake-up.
#[derive(Debug)]
pub struct PersonnelWatch {
    _stop: mpsc::Sender<()>,
}

impl PersonnelWatch {
    /// Starts the watch thread. Creates the inbox folder if it is missing.
    pub fn spawn(
        settings: WatchSettings,
        personnel: PersonnelHandle,
        bus: Bus,
    ) -> Result<PersonnelWatch, PersonnelError> {
        let inbox = match &settings.inbox {
            Some(dir) => Some(Inbox::open(dir, settings.removal_limit)?),
            None => None,
        };
        let (stop, stopped) = mpsc::channel();
        let watcher = Watcher {
            settings,
            personnel,
            bus,
            inbox,
            reader: None,
            generation: None,
        };
        std::thread::Builder::new()
            .name("armory-personnel-watch".to_owned())
            .spawn(move || watcher.run(&stopped))
            .map_err(|cause| PersonnelError::Thread { cause })?;
        Ok(PersonnelWatch { _stop: stop })
    }
}

struct Watcher {
    settings: WatchSettings,
    personnel: PersonnelHandle,
    bus: Bus,
    inbox: Option<Inbox>,
    /// Opened on first use, and again after an error.
    reader: Option<Database>,
    /// The generation in force; `None` until the first load.
    generation: Option<u64>,
}

impl Watcher {
    fn run(mut self, stopped: &mpsc::Receiver<()>) {
        tracing::info!(
            period = ?self.settings.period,
            inbox = ?self.settings.inbox,
            "personnel watch started"
        );
        loop {
            if let Some(inbox) = &mut self.inbox {
                inbox.scan(&self.settings.database, &self.settings.clock);
            }
            self.poll();

            // Nothing is ever sent: the sender's drop wakes us to stop.
            match stopped.recv_timeout(self.settings.period) {
                Err(RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("personnel watch stopped");
    }

    /// Reloads the personnel if the store's generation moved.
    fn poll(&mut self) {
        if let Err(error) = self.try_poll() {
            // Reopen next time: the file may have been replaced.
            self.reader = None;
            tracing::error!(%error, "personnel poll failed; the personnel in force is unchanged");
        }
    }

    fn try_poll(&mut self) -> Result<(), crate::store::DbError> {
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self
                .reader
                .insert(Database::open_reader(&self.settings.database)?),
        };
        let generation = reader.personnel_generation()?;
        if Some(generation) == self.generation {
            return Ok(());
        }

        let (generation, loaded) = reader.personnel_snapshot()?;
        let diff = PersonnelDiff::between(&self.personnel.snapshot(), &loaded);
        let payload = payload(generation, &loaded, &diff, self.settings.clock.now());
        self.personnel.replace(loaded);
        self.generation = Some(generation);

        tracing::info!(
            generation,
            people = payload.people,
            certifications = payload.certifications,
            pins = payload.pins,
            added = payload.added,
            removed = payload.removed,
            changed = payload.changed,
            "personnel in force"
        );
        self.bus.publish_state(Topic::Personnel.name(), &payload);
        Ok(())
    }
}

fn payload(
    generation: u64,
    personnel: &Personnel,
    diff: &PersonnelDiff,
    now: Timestamp,
) -> PersonnelPayload {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let certifications = personnel.certifications.values().map(Vec::len).sum();
    PersonnelPayload {
        v: SCHEMA_VERSION,
        generation,
        people: count(personnel.people.len()),
        certifications: count(certifications),
        pins: count(personnel.pin_hashes.len()),
        changed_at: now,
        added: count(diff.added.len()),
        removed: count(diff.removed.len()),
        changed: count(diff.people_changed()),
    }
}
