//! What every actor of the tree shares: the ports, the clock, the
//! personnel snapshot, the timing policy and the command counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::SignedDuration;

use crate::clock::Clock;
use crate::domain::Personnel;
use crate::maintenance::MaintenancePolicy;
use crate::policy::AccessPolicy;
use crate::ports::{Bus, Store};
use crate::protocol::FleetSecret;

/// Timing policy of the lockers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// A granted unlock whose door does not open within this is closed out.
    pub unlock_window: Duration,
    /// How long a command is valid after it is made.
    pub command_lifetime: SignedDuration,
    /// A door open longer than this raises a held-open alarm.
    pub door_open_limit: Duration,
    /// A controller silent this long is offline (one missed heartbeat is
    /// not: controllers beat every 10 seconds).
    pub heartbeat_timeout: Duration,
    /// A child actor restarted this many times within
    /// [`Timing::restart_window`] is isolated instead.
    pub max_restarts: u32,
    /// The window of [`Timing::max_restarts`].
    pub restart_window: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            unlock_window: Duration::from_secs(30),
            command_lifetime: SignedDuration::from_secs(5),
            door_open_limit: Duration::from_secs(120),
            heartbeat_timeout: Duration::from_secs(30),
            max_restarts: 3,
            restart_window: Duration::from_secs(60),
        }
    }
}

/// The current personnel snapshot; an import swaps it whole.
#[derive(Clone, Debug, Default)]
pub struct PersonnelHandle(Arc<RwLock<Arc<Personnel>>>);

impl PersonnelHandle {
    /// A handle holding `personnel`.
    pub fn new(personnel: Personnel) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(personnel))))
    }

    /// The snapshot in force now; later imports do not change it.
    pub fn snapshot(&self) -> Arc<Personnel> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    /// Replaces the snapshot atomically.
    pub fn replace(&self, personnel: Personnel) {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(personnel);
    }
}

/// The service's command counter: strictly increasing across restarts
/// because it starts at the wall clock in microseconds.
#[derive(Clone, Debug)]
pub struct CommandCounter(Arc<AtomicU64>);

impl CommandCounter {
    /// A counter starting at `start`.
    pub fn starting_at(start: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start)))
    }

    /// The next value.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Everything an actor of the tree needs from outside.
#[derive(Clone, Debug)]
pub struct Services {
    /// MQTT publisher.
    pub bus: Bus,
    /// Durable store.
    pub store: Store,
    /// Wall clock for rules and records.
    pub clock: Clock,
    /// People, certifications, PIN hashes.
    pub personnel: PersonnelHandle,
    /// Keys of every locker.
    pub fleet_secret: FleetSecret,
    /// Timing policy.
    pub timing: Timing,
    /// Counter of commands sent.
    pub commands: CommandCounter,
    /// Who may draw what, factors, lockouts, dual authorization.
    pub policy: Arc<AccessPolicy>,
    /// When weapons are due for service and overdue.
    pub maintenance: Arc<MaintenancePolicy>,
}
