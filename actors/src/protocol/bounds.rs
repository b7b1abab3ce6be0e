//! Limits on what a sealed body may hold, beyond what its JSON shape says.
//!
//! serde already refuses unknown fields, wrong types and numbers outside
//! their type, and [`super::MAX_PAYLOAD_BYTES`] caps the whole message.
//! What the shape does not bound is checked here after decoding: the
//! length and alphabet of free strings (firmware, badge, sealed PIN,
//! reason), the size of lists, and counts that cannot be zero. A body out
//! of bounds is refused by [`super::SealedEnvelope::open`] as malformed,
//! before its tag is even checked, so nothing oversized reaches an actor.
//!
//! A body kind that has no arm below is bounded by the message size only.

use super::payload::{Command, DeviceEvent};

/// Longest firmware version string a controller may report.
pub const MAX_FIRMWARE_LEN: usize = 64;

/// Most readers one controller may report.
pub const MAX_READERS: usize = 32;

/// Longest id (reader, sender) inside a body, as in a topic segment.
pub const MAX_ID_LEN: usize = 64;

/// Longest badge UID as read: 32 hex digits, with room for readers that
/// pad; its format is judged by the reader actor, which audits a denial.
pub const MAX_BADGE_LEN: usize = 64;

/// Longest sealed PIN (base64 of nonce, ciphertext and tag): a 12-digit
/// PIN seals to 56 characters.
pub const MAX_SEALED_PIN_LEN: usize = 128;

/// Longest reason code on a reader's display.
pub const MAX_REASON_LEN: usize = 64;

/// Longest free text on a panel report or service record (problem text,
/// notes).
pub const MAX_TEXT_LEN: usize = 1000;

/// Longest code word (problem code, work item, outcome).
pub const MAX_WORD_LEN: usize = 32;

/// Most work items on one service record.
pub const MAX_WORK_ITEMS: usize = 16;

/// Most rounds one return may report: more is a typo, not a shift.
pub const MAX_DEPLOYMENTS: u32 = 10_000;

/// A body whose values are checked after decoding.
pub trait Bounded {
    /// Why the body is out of bounds, or `None` if it is within them.
    fn out_of_bounds(&self) -> Option<String>;
}

impl Bounded for DeviceEvent {
    fn out_of_bounds(&self) -> Option<String> {
        match self {
            DeviceEvent::ControllerOnline {
                firmware,
                readers,
                compartments,
            } => {
                if firmware.len() > MAX_FIRMWARE_LEN || !firmware.bytes().all(is_printable) {
                    return Some(format!(
                        "firmware must be at most {MAX_FIRMWARE_LEN} printable ASCII characters"
                    ));
                }
                if readers.len() > MAX_READERS {
                    return Some(format!("more than {MAX_READERS} readers"));
                }
                if let Some(bad) = readers.iter().position(|id| !is_id(id.as_str())) {
                    return Some(format!("reader {bad} is not a valid id"));
                }
                (*compartments == 0).then(|| "a controller drives at least 1 compartment".into())
            }
            DeviceEvent::Scan {
                badge_uid,
                pin_sealed,
                ..
            } => {
                if badge_uid.is_empty() || badge_uid.len() > MAX_BADGE_LEN {
                    return Some(format!("badge_uid must be 1 to {MAX_BADGE_LEN} bytes"));
                }
                let sealed_len = pin_sealed.as_ref().map_or(0, String::len);
                (sealed_len > MAX_SEALED_PIN_LEN)
                    .then(|| format!("pin_sealed is longer than {MAX_SEALED_PIN_LEN} bytes"))
            }
            DeviceEvent::PanelReport {
                badge_uid,
                asset_tag,
                deployments,
                problem,
            } => badge_out_of_bounds(badge_uid)
                .or_else(|| id_out_of_bounds("asset_tag", asset_tag.as_str()))
                .or_else(|| {
                    deployments
                        .filter(|rounds| *rounds > MAX_DEPLOYMENTS)
                        .map(|_| format!("more than {MAX_DEPLOYMENTS} rounds deployed"))
                })
                .or_else(|| {
                    let problem = problem.as_ref()?;
                    word_out_of_bounds("problem code", &problem.code)
                        .or_else(|| text_out_of_bounds("problem text", problem.text.as_deref()))
                }),
            DeviceEvent::ServiceRecord {
                badge_uid,
                asset_tag,
                work,
                outcome,
                notes,
                ..
            } => badge_out_of_bounds(badge_uid)
                .or_else(|| id_out_of_bounds("asset_tag", asset_tag.as_str()))
                .or_else(|| {
                    (work.len() > MAX_WORK_ITEMS)
                        .then(|| format!("more than {MAX_WORK_ITEMS} work items"))
                })
                .or_else(|| {
                    work.iter()
                        .find_map(|item| word_out_of_bounds("work item", item))
                })
                .or_else(|| word_out_of_bounds("outcome", outcome))
                .or_else(|| text_out_of_bounds("notes", notes.as_deref())),
            DeviceEvent::WeaponTagRead { asset_tag } => {
                id_out_of_bounds("asset_tag", asset_tag.as_str())
            }
            _ => None,
        }
    }
}

fn badge_out_of_bounds(badge: &str) -> Option<String> {
    (badge.is_empty() || badge.len() > MAX_BADGE_LEN)
        .then(|| format!("badge_uid must be 1 to {MAX_BADGE_LEN} bytes"))
}

fn id_out_of_bounds(what: &str, id: &str) -> Option<String> {
    (!is_id(id)).then(|| format!("{what} is not a valid id"))
}

fn word_out_of_bounds(what: &str, word: &str) -> Option<String> {
    let valid = !word.is_empty()
        && word.len() <= MAX_WORD_LEN
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit());
    (!valid).then(|| format!("{what} must be 1 to {MAX_WORD_LEN} lower-case letters, digits or _"))
}

fn text_out_of_bounds(what: &str, text: Option<&str>) -> Option<String> {
    let text = text?;
    let valid = text.chars().count() <= MAX_TEXT_LEN && !text.chars().any(char::is_control);
    (!valid).then(|| format!("{what} must be at most {MAX_TEXT_LEN} characters, no control ones"))
}

impl Bounded for Command {
    fn out_of_bounds(&self) -> Option<String> {
        match self {
            Command::ShowOutcome { reason, .. } => {
                let code = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
                let fits = !reason.is_empty() && reason.len() <= MAX_REASON_LEN;
                (!fits || !reason.bytes().all(code)).then(|| {
                    format!("reason must be 1 to {MAX_REASON_LEN} characters of [a-z0-9_]")
                })
            }
            _ => None,
        }
    }
}

/// Whether `text` is an id as topics allow it: 1 to [`MAX_ID_LEN`] bytes
/// of `[A-Za-z0-9._-]`.
pub fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_printable(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReaderId;
    use crate::protocol::AccessRequest;

    fn online(firmware: &str, readers: usize, compartments: u16) -> DeviceEvent {
        DeviceEvent::ControllerOnline {
            firmware: firmware.to_owned(),
            readers: (0..readers)
                .map(|n| ReaderId::from(format!("R{n}").as_str()))
                .collect(),
            compartments,
        }
    }

    fn scan(badge: &str, sealed: Option<String>) -> DeviceEvent {
        DeviceEvent::Scan {
            badge_uid: badge.to_owned(),
            pin_sealed: sealed,
            fingerprint_match: None,
            request: AccessRequest::Return,
        }
    }

    #[test]
    fn sensible_bodies_are_within_bounds() {
        assert_eq!(online("sim-1.0", 2, 24).out_of_bounds(), None);
        assert_eq!(scan("618C664A", Some("A".repeat(56))).out_of_bounds(), None);
        assert_eq!(DeviceEvent::Heartbeat.out_of_bounds(), None);
        let outcome = Command::ShowOutcome {
            scan: uuid::Uuid::nil(),
            granted: false,
            reason: "not_certified".into(),
            compartment: None,
        };
        assert_eq!(outcome.out_of_bounds(), None);
    }

    #[test]
    fn panel_reports_and_service_records_are_bounded() {
        use super::super::payload::ProblemPayload;
        let report = |code: &str, text: &str, rounds| DeviceEvent::PanelReport {
            badge_uid: "618C664A".into(),
            asset_tag: "LL-01001".into(),
            deployments: Some(rounds),
            problem: Some(ProblemPayload {
                code: code.into(),
                text: Some(text.into()),
            }),
        };
        assert_eq!(
            report("malfunction", "trigger sticks", 3).out_of_bounds(),
            None
        );
        assert!(report("Malfunction!", "x", 3).out_of_bounds().is_some());
        assert!(report("damaged", "bell\u{7}", 3).out_of_bounds().is_some());
        assert!(report("damaged", &"x".repeat(1001), 3)
            .out_of_bounds()
            .is_some());
        assert!(report("damaged", "x", 10_001).out_of_bounds().is_some());
        let record = |work: Vec<String>| DeviceEvent::ServiceRecord {
            badge_uid: "618C664A".into(),
            asset_tag: "LL-01001".into(),
            work,
            function_test_passed: true,
            outcome: "release".into(),
            notes: None,
        };
        assert_eq!(record(vec!["inspection".into()]).out_of_bounds(), None);
        assert!(record(vec!["x".into(); 17]).out_of_bounds().is_some());
    }

    #[test]
    fn oversized_or_odd_values_are_out_of_bounds() {
        assert!(online(&"x".repeat(65), 1, 1).out_of_bounds().is_some());
        assert!(online("v1\u{7}", 1, 1).out_of_bounds().is_some());
        assert!(online("v1", 33, 1).out_of_bounds().is_some());
        assert!(online("v1", 1, 0).out_of_bounds().is_some());
        let odd_reader = DeviceEvent::ControllerOnline {
            firmware: "v1".into(),
            readers: vec![ReaderId::from("R1/#")],
            compartments: 4,
        };
        assert!(odd_reader.out_of_bounds().is_some());
        assert!(scan("", None).out_of_bounds().is_some());
        assert!(scan(&"A".repeat(65), None).out_of_bounds().is_some());
        assert!(scan("618C664A", Some("A".repeat(129)))
            .out_of_bounds()
            .is_some());
        let shouting = Command::ShowOutcome {
            scan: uuid::Uuid::nil(),
            granted: true,
            reason: "Granted!".into(),
            compartment: None,
        };
        assert!(shouting.out_of_bounds().is_some());
    }
}
