//! The two handles through which actors reach the outside world.
//!
//! [`Bus`] publishes on MQTT; [`Store`] makes audit rows and weapon
//! transitions durable. Both are channels: the service runs the MQTT client
//! and the SQLite writer at their other ends, tests can run fakes. Neither
//! blocks an actor: a full bus refuses at once, and a store request is one
//! awaited reply.

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::domain::{
    AssetTag, BadgeUid, CompartmentNo, EmployeeId, LockerId, ReaderId, SiteId, WeaponClass,
};

/// One message for the MQTT publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// Topic name.
    pub topic: String,
    /// JSON payload; never empty (an empty payload would clear retained
    /// state on the broker).
    pub payload: Vec<u8>,
    /// Retained (state) or not (events, commands, activity, alerts).
    pub retain: bool,
    /// Commands go at QoS 1; projections at QoS 0, since the next change
    /// republishes them anyway.
    pub reliable: bool,
}

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The publisher's queue is full; the message was not sent.
    #[error("MQTT publish queue is full")]
    Full,
    /// The publisher has stopped.
    #[error("MQTT publisher has stopped")]
    Closed,
}

/// A handle to the MQTT publisher.
#[derive(Clone, Debug)]
pub struct Bus {
    tx: mpsc::Sender<Outbound>,
}

impl Bus {
    /// A bus and the receiver its publisher drains.
    pub fn channel(capacity: usize) -> (Bus, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Bus { tx }, rx)
    }

    /// Queues a sealed command (QoS 1, never retained) without waiting.
    pub fn publish_command(&self, topic: String, payload: Vec<u8>) -> Result<(), BusError> {
        self.send(Outbound {
            topic,
            payload,
            retain: false,
            reliable: true,
        })
    }

    fn send(&self, message: Outbound) -> Result<(), BusError> {
        self.tx.try_send(message).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => BusError::Full,
            mpsc::error::TrySendError::Closed(_) => BusError::Closed,
        })
    }

    /// Queues a retained JSON state payload. Losing one is not fatal (the
    /// next change republishes), so failures are only counted.
    pub fn publish_state<T: serde::Serialize>(&self, topic: String, payload: &T) {
        self.publish_json(topic, payload, true);
    }

    /// Queues a non-retained JSON payload (activity, alert), counted if lost.
    pub fn publish_event<T: serde::Serialize>(&self, topic: String, payload: &T) {
        self.publish_json(topic, payload, false);
    }

    fn publish_json<T: serde::Serialize>(&self, topic: String, payload: &T, retain: bool) {
        let bytes = match serde_json::to_vec(payload) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%topic, %error, "state payload did not serialise");
                return;
            }
        };
        let message = Outbound {
            topic,
            payload: bytes,
            retain,
            reliable: false,
        };
        if let Err(error) = self.send(message) {
            metrics::counter!("armory_bus_dropped_total").increment(1);
            tracing::warn!(%error, "projection dropped");
        }
    }
}

/// What an audit row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A person asked for a weapon.
    SignOutRequest,
    /// A person asked to return a weapon.
    ReturnRequest,
    /// A weapon left its compartment.
    SignedOut,
    /// A weapon came back to its compartment.
    Returned,
    /// A granted opening that never happened, closed out.
    UnlockExpired,
    /// Something that should not happen, recorded for the armorer.
    Anomaly,
    /// A roster or training export was applied to the store.
    Import,
    /// A person's PIN was enrolled or replaced (the PIN is never recorded).
    PinEnrolled,
    /// A badge was locked out of a locker after repeated wrong PINs.
    Lockout,
    /// A supervisor cleared the lockouts of a locker.
    LockoutCleared,
    /// A second person authorized (or failed to authorize in time) a
    /// sign-out of a class that needs two.
    DualAuthorization,
    /// An officer reported a problem; the weapon is quarantined.
    ProblemReport,
    /// Rounds or cartridges deployed, reported at return.
    Deployment,
    /// A weapon became due for service.
    ServiceDue,
    /// An armorer opened a compartment for service, or serviced a weapon.
    Service,
    /// A weapon went overdue, escalated, or came back after being overdue.
    Overdue,
    /// A door, lock or tamper alarm was raised.
    Alarm,
    /// A supervisor or armorer acknowledged the alarms of a locker.
    AlarmAcknowledged,
    /// A device or actor changed health: offline, online, restarted,
    /// isolated, back in service.
    DeviceHealth,
    /// The service started with a configuration other than the last one.
    ConfigurationChange,
}

impl AuditAction {
    /// The word stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignOutRequest => "sign_out_request",
            AuditAction::ReturnRequest => "return_request",
            AuditAction::SignedOut => "signed_out",
            AuditAction::Returned => "returned",
            AuditAction::UnlockExpired => "unlock_expired",
            AuditAction::Anomaly => "anomaly",
            AuditAction::Import => "import",
            AuditAction::PinEnrolled => "pin_enrolled",
            AuditAction::Lockout => "lockout",
            AuditAction::LockoutCleared => "lockout_cleared",
            AuditAction::DualAuthorization => "dual_authorization",
            AuditAction::ProblemReport => "problem_report",
            AuditAction::Deployment => "deployment",
            AuditAction::ServiceDue => "service_due",
            AuditAction::Service => "service",
            AuditAction::Overdue => "overdue",
            AuditAction::Alarm => "alarm",
            AuditAction::AlarmAcknowledged => "alarm_acknowledged",
            AuditAction::DeviceHealth => "device_health",
            AuditAction::ConfigurationChange => "configuration_change",
        }
    }
}

/// The outcome an audit row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Access granted; an unlock follows.
    Granted,
    /// Access denied; nothing opened.
    Denied,
    /// A fact recorded (sign-out completed, return completed, expiry).
    Recorded,
}

impl Decision {
    /// The word stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Granted => "granted",
            Decision::Denied => "denied",
            Decision::Recorded => "recorded",
        }
    }
}

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The device event that caused it; unique in the trail when present,
    /// which is what makes a redelivered scan count once.
    pub event_id: Option<Uuid>,
    /// When it happened (UTC).
    pub at: Timestamp,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Reader, for access attempts.
    pub reader: Option<ReaderId>,
    /// What it records.
    pub action: AuditAction,
    /// The badge presented (never a PIN).
    pub badge: Option<BadgeUid>,
    /// The person resolved.
    pub employee_id: Option<EmployeeId>,
    /// The class asked for.
    pub weapon_class: Option<WeaponClass>,
    /// The weapon chosen.
    pub asset_tag: Option<AssetTag>,
    /// The compartment chosen.
    pub compartment: Option<CompartmentNo>,
    /// Outcome.
    pub decision: Decision,
    /// Reason code, e.g. `granted`, `certification_expired`.
    pub reason: String,
    /// The sign-out or return transaction it belongs to.
    pub transaction: Option<Uuid>,
}

/// A change to a weapon's durable state, committed with its audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeaponChange {
    /// The weapon left its compartment with `holder`.
    SignedOut {
        /// Weapon.
        asset_tag: AssetTag,
        /// Who took it.
        holder: EmployeeId,
        /// The sign-out transaction.
        transaction: Uuid,
        /// When the door closed on the empty compartment.
        at: Timestamp,
    },
    /// The weapon came back.
    Returned {
        /// Weapon.
        asset_tag: AssetTag,
        /// Who brought it back.
        holder: EmployeeId,
        /// The return transaction.
        transaction: Uuid,
        /// When the door closed on it.
        at: Timestamp,
    },
    /// Rounds or cartridges deployed, reported at return.
    Deployed {
        /// Weapon.
        asset_tag: AssetTag,
        /// How many.
        rounds: u32,
    },
    /// The weapon's service status changed (due, quarantined).
    StatusChanged {
        /// Weapon.
        asset_tag: AssetTag,
        /// The new status.
        status: crate::domain::ServiceStatus,
    },
    /// A problem was reported; the weapon is quarantined.
    ProblemReported {
        /// Weapon.
        asset_tag: AssetTag,
        /// The report.
        note: ProblemNote,
    },
    /// An armorer serviced the weapon: counters reset, released or retired.
    Serviced {
        /// Weapon.
        asset_tag: AssetTag,
        /// What was done.
        note: ServiceNote,
    },
}

/// A problem an officer reported about a weapon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemNote {
    /// Reason code: damaged, malfunction, missing_part, low_battery, other.
    pub code: ProblemCode,
    /// Free text, bounded by the payload limit.
    pub text: Option<String>,
    /// Who reported it.
    pub reporter: EmployeeId,
    /// When.
    pub at: Timestamp,
}

crate::domain::word_enum!(
    /// Why a weapon was reported.
    ProblemCode, "problem code", {
        /// Visibly damaged.
        Damaged = "damaged",
        /// Does not function.
        Malfunction = "malfunction",
        /// A part is missing.
        MissingPart = "missing_part",
        /// Battery low (conducted electrical weapons).
        LowBattery = "low_battery",
        /// Anything else; the text says what.
        Other = "other",
    }
);

/// What an armorer did to a weapon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNote {
    /// Work done: inspection, repair, parts, function_test.
    pub work: Vec<String>,
    /// Whether the function test passed.
    pub function_test_passed: bool,
    /// Back in service, or retired.
    pub outcome: crate::domain::ServiceStatus,
    /// Free text.
    pub notes: Option<String>,
    /// The armorer.
    pub armorer: EmployeeId,
    /// The service date (site-local calendar date).
    pub date: jiff::civil::Date,
}

/// Why the store refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// An audit row for this event id already exists: the event is a
    /// redelivery and must have no further effect.
    #[error("event {event_id} is already in the audit trail")]
    Duplicate {
        /// The repeated event id.
        event_id: Uuid,
    },
    /// The change contradicts the stored state (e.g. returning a weapon
    /// that is not signed out).
    #[error("store refused the change: {detail}")]
    Conflict {
        /// What contradicts what.
        detail: String,
    },
    /// SQLite failed; the caller must fail secure.
    #[error("store failure: {detail}")]
    Failed {
        /// The database error.
        detail: String,
    },
    /// The writer has stopped.
    #[error("store writer is not running")]
    Closed,
}

/// A granted opening that has no completion in the trail yet: what a
/// weapon and its compartment resume after a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenGrant {
    /// The sign-out or return.
    pub transaction: Uuid,
    /// Sign-out or return.
    pub purpose: crate::protocol::UnlockPurpose,
    /// Who it was granted to (who holds the weapon, for a return).
    pub holder: EmployeeId,
    /// When it was granted.
    pub granted_at: Timestamp,
}

/// A weapon's sign-out that has not been returned, as the store knows it:
/// what a weapon out when the service starts needs to go on counting
/// toward overdue from its real sign-out, not from the restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutstandingSignOut {
    /// The sign-out.
    pub transaction: Uuid,
    /// When the door closed on the empty compartment.
    pub signed_out_at: Timestamp,
    /// How far it has gone overdue, from the trail's `overdue` rows.
    pub overdue: OverdueStage,
}

/// How far an outstanding sign-out has gone overdue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverdueStage {
    /// Within its expected return time.
    #[default]
    OnTime,
    /// Past it: the armory was told.
    Late,
    /// Past the escalation period too: the supervisors were told.
    Escalated,
}

/// One request to the store's writer.
#[derive(Debug)]
pub enum StoreRequest {
    /// The open grant of a weapon, if any: the latest granted sign-out or
    /// return of it with no `signed_out`, `returned`, `unlock_expired` or
    /// anomaly row of the same transaction.
    OpenGrant {
        /// The weapon.
        asset_tag: AssetTag,
        /// The grant, if one is open.
        reply: oneshot::Sender<Result<Option<OpenGrant>, StoreError>>,
    },
    /// The outstanding sign-out of a weapon, if it is out.
    OutstandingSignOut {
        /// The weapon.
        asset_tag: AssetTag,
        /// The sign-out, if the weapon is out.
        reply: oneshot::Sender<Result<Option<OutstandingSignOut>, StoreError>>,
    },
    /// Append an audit row, apply the weapon change if any, in one
    /// transaction, durable before the reply.
    Commit {
        /// The row to append.
        entry: Box<AuditEntry>,
        /// The weapon change committed with it.
        change: Option<WeaponChange>,
        /// Receives the new row's sequence number.
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
}

/// A handle to the store's single writer.
#[derive(Clone, Debug)]
pub struct Store {
    tx: mpsc::Sender<StoreRequest>,
}

impl Store {
    /// A store handle and the receiver its writer drains.
    pub fn channel(capacity: usize) -> (Store, mpsc::Receiver<StoreRequest>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Store { tx }, rx)
    }

    /// The open grant of a weapon, if any; see [`StoreRequest::OpenGrant`].
    pub async fn open_grant(&self, asset_tag: AssetTag) -> Result<Option<OpenGrant>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(StoreRequest::OpenGrant { asset_tag, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The outstanding sign-out of a weapon; see
    /// [`StoreRequest::OutstandingSignOut`].
    pub async fn outstanding_sign_out(
        &self,
        asset_tag: AssetTag,
    ) -> Result<Option<OutstandingSignOut>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(StoreRequest::OutstandingSignOut { asset_tag, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Appends `entry` (and applies `change`) durably.
    pub async fn commit(
        &self,
        entry: AuditEntry,
        change: Option<WeaponChange>,
    ) -> Result<i64, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = StoreRequest::Commit {
            entry: Box::new(entry),
            change,
            reply,
        };
        self.tx
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}
