//! The armory device simulator: the hardware of every configured locker.
//!
//! Each locker of the agency's data gets its own controller with one MQTT
//! client (`locker-{id}`), speaking exactly the topic protocol of
//! [`armory_actors::protocol`]: sealed events out (online, heartbeat, scans,
//! doors), sealed commands in (unlock, show outcome), stale, forged,
//! replayed and retained commands refused and counted. On top of the
//! hardware, [`Simulator::scan`] plays an officer at a reader, and
//! [`run_shift`] plays a whole shift of them and reports what happened.
//!
//! The simulator trusts nothing it receives more than a real locker would:
//! a command opens a compartment only if it verifies under that locker's
//! key, is fresh, and carries a counter above every earlier one.

pub mod hardware;
mod locker;
pub mod report;
pub mod scan;
pub mod shift;
mod simulator;
mod transport;

use std::net::SocketAddr;
use std::time::Duration;

use armory_actors::domain::{LockerId, ReaderId};
use armory_actors::import::AgencyData;
use armory_actors::policy::AccessPolicy;
use armory_actors::protocol::FleetSecret;

pub use report::{LatencySummary, ShiftReport, SimStats};
pub use scan::{Answer, DoorCycle, Presented, ScanOutcome};
pub use shift::{run_shift, run_shift_at, select_crew, Draw, Officer, ShiftPlan};
pub use simulator::Simulator;
pub use transport::SimTls;

/// How the simulator connects and how its people behave.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The MQTT broker: plain TCP, or TLS with [`SimConfig::tls`].
    pub broker: SocketAddr,
    /// TLS to the broker; `None` for plain TCP.
    pub tls: Option<SimTls>,
    /// The fleet secret every locker key derives from.
    pub fleet_secret: FleetSecret,
    /// The agency: lockers and inventory, roster, training, PINs.
    pub agency: AgencyData,
    /// How long a person takes between the door opening and closing, drawn
    /// uniformly from this range (inclusive); also how long an officer
    /// holds a weapon in a shift. Zero for tests.
    pub handling_delay: (Duration, Duration),
    /// How long a scan waits for the reader to show its outcome, and a
    /// granted scan then waits for the door cycle.
    pub outcome_timeout: Duration,
    /// How long [`Simulator::start`] waits for every locker to connect.
    pub connect_timeout: Duration,
    /// How often each controller sends a heartbeat.
    pub heartbeat_every: Duration,
    /// The wall clock that stamps events and judges commands' freshness;
    /// tests share the service's fixed clock with it. A shift reads
    /// certifications at this clock's now.
    pub clock: armory_actors::clock::Clock,
    /// The service's access policy, so that a shift picks only people,
    /// classes and readers the service will accept (roles, sites, second
    /// factors). Default: the service's default policy.
    pub access: AccessPolicy,
}

impl SimConfig {
    /// A configuration with human timings (300 to 800 ms of handling, 10 s
    /// outcome and connect timeouts, a heartbeat every 10 s).
    pub fn new(broker: SocketAddr, fleet_secret: FleetSecret, agency: AgencyData) -> Self {
        Self {
            broker,
            tls: None,
            fleet_secret,
            agency,
            handling_delay: (Duration::from_millis(300), Duration::from_millis(800)),
            outcome_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            heartbeat_every: Duration::from_secs(10),
            clock: armory_actors::clock::Clock::system(),
            access: AccessPolicy::default(),
        }
    }
}

/// Why the simulator could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The agency data configures no locker at all.
    #[error("the agency data configures no locker")]
    NoLockers,
    /// Some lockers did not connect to the broker in time.
    #[error("{count} locker(s) did not connect to {broker} within {waited:?}, first {first}")]
    ConnectTimeout {
        /// The broker tried.
        broker: SocketAddr,
        /// How many did not connect.
        count: usize,
        /// The first of them.
        first: LockerId,
        /// How long the simulator waited.
        waited: Duration,
    },
    /// No such locker is simulated.
    #[error("locker {locker} is not simulated")]
    UnknownLocker {
        /// The locker asked for.
        locker: LockerId,
    },
    /// The locker has no such reader.
    #[error("locker {locker} has no reader {reader}")]
    UnknownReader {
        /// The locker.
        locker: LockerId,
        /// The reader asked for.
        reader: ReaderId,
    },
    /// The simulator has been shut down.
    #[error("the simulator has stopped")]
    Stopped,
    /// No one in the roster can draw a weapon anywhere, so no shift can run.
    #[error("no active, certified officer with an enrolled PIN has a weapon at a home locker")]
    NoCrew,
}
