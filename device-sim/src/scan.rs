//! What an officer presents at a reader, and what came of it.
//!
//! A scan is one person at one reader: a badge, and the second factor the
//! reader takes (a PIN typed on the keypad, or the fingerprint verdict).
//! Its outcome is what the reader's display showed, how long it took, and
//! for a grant the door cycle that followed.

use std::time::Duration;

use armory_actors::domain::{BadgeUid, CompartmentNo, ReaderKind};
use uuid::Uuid;

/// The credentials a person presents at a reader.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    /// The badge held to the reader.
    pub badge: BadgeUid,
    /// The PIN typed, on a reader with a keypad; sealed before it leaves.
    pub pin: Option<String>,
    /// The fingerprint reader's verdict, on a reader with one.
    pub fingerprint_match: Option<bool>,
}

impl Presented {
    /// What a genuine holder presents at a reader of `kind`: the PIN on a
    /// keypad reader, a matching finger on a fingerprint reader.
    pub fn for_reader(kind: ReaderKind, badge: BadgeUid, pin: Option<&str>) -> Self {
        match kind {
            ReaderKind::BadgePin => Self {
                badge,
                pin: pin.map(str::to_owned),
                fingerprint_match: None,
            },
            ReaderKind::BadgeFingerprint => Self {
                badge,
                pin: None,
                fingerprint_match: Some(true),
            },
        }
    }
}

impl std::fmt::Debug for Presented {
    /// Shows the badge's fingerprint and whether a PIN was typed, never the
    /// PIN itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("badge", &self.badge)
            .field("pin", &self.pin.as_ref().map(|_| "redacted"))
            .field("fingerprint_match", &self.fingerprint_match)
            .finish()
    }
}

/// What the reader showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Access granted.
    Granted {
        /// The compartment the service said would open.
        compartment: Option<CompartmentNo>,
    },
    /// Access denied.
    Denied {
        /// The service's reason code, e.g. `wrong_pin`.
        reason: String,
    },
    /// Nothing came within the outcome timeout.
    NoAnswer,
}

/// A door opening and closing that followed a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorCycle {
    /// The compartment.
    pub compartment: CompartmentNo,
    /// What the presence sensor read when the door closed.
    pub weapon_present: bool,
    /// From the scan to the door closing.
    pub latency: Duration,
}

/// The result of one scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanOutcome {
    /// The scan event's id, which the outcome answered.
    pub scan: Uuid,
    /// What the reader showed.
    pub answer: Answer,
    /// From the scan to the outcome; `None` when none came.
    pub outcome_latency: Option<Duration>,
    /// The door cycle after a grant; `None` when denied, or when granted
    /// but no door opened and closed in time.
    pub door: Option<DoorCycle>,
}

impl ScanOutcome {
    /// Whether access was granted.
    pub fn granted(&self) -> bool {
        matches!(self.answer, Answer::Granted { .. })
    }

    /// The reason code shown, `granted` for a grant, `None` without answer.
    pub fn reason(&self) -> Option<&str> {
        match &self.answer {
            Answer::Granted { .. } => Some("granted"),
            Answer::Denied { reason } => Some(reason),
            Answer::NoAnswer => None,
        }
    }
}
