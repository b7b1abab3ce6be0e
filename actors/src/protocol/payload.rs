//! The JSON payloads of the topic API.
//!
//! Device events and commands are the `body` of a sealed envelope (see
//! [`super::seal`]); state, activity and alert payloads are plain JSON for
//! dashboards. Every struct rejects unknown fields, and every string a
//! device sends is bounded by the envelope's size limit.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{AssetTag, CompartmentNo, EmployeeId, LockerId, ReaderId, SiteId, WeaponClass};

/// What a locker's hardware reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceEvent {
    /// The controller came up and reports its devices.
    ControllerOnline {
        /// Firmware version string.
        firmware: String,
        /// Readers it drives.
        readers: Vec<ReaderId>,
        /// Number of compartments it drives.
        compartments: u16,
    },
    /// A device is alive. On the controller's topic: the controller. On a
    /// reader's topic: that reader answered the controller's polls since
    /// the last beat (readers hang off the controller's bus and reach MQTT
    /// only through it, sealed under the locker's key like every event).
    Heartbeat,
    /// The controller is going away (clean shutdown, or its last will,
    /// sealed when it connected). Not subject to the counter, since a last
    /// will is sealed before the events it follows; checked by tag and
    /// expiry, and counted once by its id.
    ControllerOffline,
    /// The controller's tamper switch tripped (enclosure opened).
    Tamper,
    /// A person presented credentials at a reader.
    Scan {
        /// The badge UID as read, hex.
        badge_uid: String,
        /// The PIN, sealed under the locker's key (see [`super::keys`]);
        /// absent on readers without a keypad.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin_sealed: Option<String>,
        /// The biometric reader's verdict, on readers that have one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint_match: Option<bool>,
        /// What the person asked for.
        request: AccessRequest,
    },
    /// A compartment's door opened.
    DoorOpened,
    /// A compartment's door closed; the presence sensor's reading then.
    DoorClosed {
        /// Whether a weapon is in the compartment.
        weapon_present: bool,
    },
    /// The compartment's RFID antenna read a weapon's tag (sent after a
    /// door closes on a weapon, by lockers that have one).
    WeaponTagRead {
        /// The asset tag read.
        asset_tag: AssetTag,
    },
    /// The panel, during an open session, reports on the weapon the
    /// session is about: rounds deployed at return, or a problem.
    PanelReport {
        /// The badge of the session.
        badge_uid: String,
        /// The weapon reported on.
        asset_tag: AssetTag,
        /// Cartridges or rounds deployed since it was signed out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployments: Option<u32>,
        /// A problem found.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<ProblemPayload>,
    },
    /// An armorer records the service of a weapon and releases or retires it.
    ServiceRecord {
        /// The armorer's badge.
        badge_uid: String,
        /// The weapon serviced.
        asset_tag: AssetTag,
        /// Work done: `inspection`, `repair`, `parts`, `function_test`.
        work: Vec<String>,
        /// Whether the function test passed.
        function_test_passed: bool,
        /// `release` (back in service) or `retire`.
        outcome: String,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
    },
}

/// A problem as the panel reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemPayload {
    /// `damaged`, `malfunction`, `missing_part`, `low_battery` or `other`.
    pub code: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl DeviceEvent {
    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceEvent::ControllerOnline { .. } => "controller_online",
            DeviceEvent::Heartbeat => "heartbeat",
            DeviceEvent::ControllerOffline => "controller_offline",
            DeviceEvent::Tamper => "tamper",
            DeviceEvent::Scan { .. } => "scan",
            DeviceEvent::DoorOpened => "door_opened",
            DeviceEvent::DoorClosed { .. } => "door_closed",
            DeviceEvent::WeaponTagRead { .. } => "weapon_tag_read",
            DeviceEvent::PanelReport { .. } => "panel_report",
            DeviceEvent::ServiceRecord { .. } => "service_record",
        }
    }
}

/// What a person asks for at a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccessRequest {
    /// Draw a weapon of a class.
    SignOut {
        /// The class asked for.
        weapon_class: WeaponClass,
    },
    /// Bring back the weapon one holds from this locker.
    Return,
    /// As the second person, authorize the oldest sign-out at this locker
    /// that waits for one (classes with dual authorization).
    Authorize,
    /// As a supervisor, clear every badge lockout at this locker.
    ClearLockouts,
    /// As a supervisor or armorer, acknowledge the door and tamper alarms
    /// of this locker; an alarm clears once acknowledged and its cause is
    /// gone (the door closed).
    Acknowledge,
    /// As an armorer, open a compartment to service its weapon (the only
    /// way to open a quarantined or held compartment).
    Service {
        /// The compartment.
        compartment: CompartmentNo,
    },
}

/// Why a lock is being opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockPurpose {
    /// The holder takes the weapon out.
    SignOut,
    /// The holder puts the weapon back.
    Return,
    /// An armorer services the weapon.
    Service,
}

/// What the service tells the hardware to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Release a compartment's lock once, for one door opening.
    Unlock {
        /// The sign-out or return this opening belongs to.
        transaction: Uuid,
        /// Why.
        purpose: UnlockPurpose,
    },
    /// Show the outcome of a scan on the reader's display.
    ShowOutcome {
        /// The scan event this answers.
        scan: Uuid,
        /// Whether access was granted.
        granted: bool,
        /// Reason code; see [`crate::rules::Reason`].
        reason: String,
        /// The compartment that will open, when granted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compartment: Option<CompartmentNo>,
    },
}

/// Whether a device has been heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Not heard from since the service started.
    Unknown,
    /// Heard from within its timeout.
    Online,
    /// Silent past its timeout, or its last will arrived.
    Offline,
    /// Isolated after failing past its restart budget (readers only):
    /// nothing is routed to it until a technician clears it.
    Faulted,
}

/// Retained state of a locker, on `.../{locker}/state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerStatePayload {
    /// Schema version.
    pub v: u32,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Controller liveness.
    pub controller: Liveness,
    /// Liveness of each reader: `unknown` until heard after a start or
    /// after its controller went away, `offline` when silent past the
    /// heartbeat timeout, `faulted` while isolated.
    pub readers: std::collections::BTreeMap<ReaderId, Liveness>,
    /// The locker's own alarm standing (`tamper`), if any, until a
    /// supervisor or armorer acknowledges it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    /// Compartment count.
    pub compartments: u16,
    /// Weapons at home and serviceable, by class.
    pub available: std::collections::BTreeMap<WeaponClass, u32>,
    /// Weapons signed out, by class.
    pub signed_out: std::collections::BTreeMap<WeaponClass, u32>,
    /// When this state was published.
    pub at: Timestamp,
}

/// A compartment's door as last reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorState {
    /// Not reported since the service started.
    Unknown,
    /// Closed and locked.
    Closed,
    /// An unlock is outstanding.
    Unlocking,
    /// Open.
    Open,
}

/// Retained state of a compartment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompartmentStatePayload {
    /// Schema version.
    pub v: u32,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Compartment.
    pub compartment: CompartmentNo,
    /// The weapon whose home it is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon: Option<AssetTag>,
    /// Door state.
    pub door: DoorState,
    /// Presence sensor reading at the last door close, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon_present: Option<bool>,
    /// Why it is held locked (`weapon_missing`, `wrong_weapon`,
    /// `lock_jammed`), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The door alarm standing (`door_held_open`, `door_forced`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    /// When this state was published.
    pub at: Timestamp,
}

/// Where a weapon is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeaponCondition {
    /// In its compartment, issuable.
    Available,
    /// Held for a granted sign-out whose door has not closed yet.
    Reserved,
    /// Signed out to a holder.
    SignedOut,
    /// In its compartment, not issuable (needs service, out of service).
    Unavailable,
}

/// Retained state of a weapon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaponStatePayload {
    /// Schema version.
    pub v: u32,
    /// Asset tag.
    pub asset_tag: AssetTag,
    /// Class.
    pub weapon_class: WeaponClass,
    /// Home site.
    pub site: SiteId,
    /// Home locker.
    pub locker: LockerId,
    /// Home compartment.
    pub compartment: CompartmentNo,
    /// Condition.
    pub condition: WeaponCondition,
    /// Service status word from the inventory.
    pub service_status: String,
    /// Holder, while signed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<EmployeeId>,
    /// Sign-outs since last service.
    pub sign_outs_since_service: u32,
    /// Sign-outs in total.
    pub total_sign_outs: u32,
    /// When this state was published.
    pub at: Timestamp,
}

/// Something that happened at a locker, for live dashboards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityPayload {
    /// Schema version.
    pub v: u32,
    /// What happened: `access_granted`, `access_denied`, `signed_out`,
    /// `returned`, `unlock_expired`.
    pub kind: String,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Reader, for access decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<ReaderId>,
    /// The person, when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<EmployeeId>,
    /// Weapon class asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon_class: Option<WeaponClass>,
    /// Weapon chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<AssetTag>,
    /// Compartment opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compartment: Option<CompartmentNo>,
    /// Reason code.
    pub reason: String,
    /// The transaction, for grants, sign-outs and returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<Uuid>,
    /// When it happened.
    pub at: Timestamp,
}

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record; nobody needs to move.
    Info,
    /// Someone should look soon.
    Warning,
    /// Someone should look now.
    Critical,
}

/// An alert at a locker, on `.../{locker}/alert` (not retained).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertPayload {
    /// Schema version.
    pub v: u32,
    /// What: e.g. `badge_locked_out`.
    pub kind: String,
    /// How urgent.
    pub severity: Severity,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// The reader concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<ReaderId>,
    /// The badge concerned, as a short fingerprint (never the full id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge: Option<String>,
    /// The weapon concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<AssetTag>,
    /// The compartment concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compartment: Option<CompartmentNo>,
    /// A sentence for the person on duty.
    pub message: String,
    /// When it was raised.
    pub at: Timestamp,
}

/// The service's retained status; its last will says `offline`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatePayload {
    /// Schema version.
    pub v: u32,
    /// `online` or `offline`.
    pub status: String,
    /// Lockers served.
    pub lockers: u32,
    /// Weapons tracked.
    pub weapons: u32,
    /// Build version.
    pub version: String,
}
