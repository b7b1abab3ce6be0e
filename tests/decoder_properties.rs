//! Property tests: random bytes, random JSON and mutated good input thrown
//! at every decoder that reads what an outsider can write. None may panic;
//! each must refuse what it cannot read, with a reason code or a located
//! error, and nothing a mutation produces may be accepted as something
//! other than the original.
//!
//! The decoders: sealed envelopes of device events and of commands
//! ([`SealedEnvelope::open`]), topic names ([`Topic::parse`]), the agency's
//! CSV exports (`armory_actors::import::parse_*`), and the configuration
//! file ([`Config::from_str_at`]). Routing and counting inside a running
//! service are in `hostile_traffic.rs`.

use std::path::Path;

use armory::config::Config;
use armory_actors::domain::LockerId;
use armory_actors::import;
use armory_actors::protocol::{
    AccessRequest, Command, DeviceEvent, FleetSecret, LockerKey, SealedEnvelope, Topic,
    UnlockPurpose,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

#[path = "support/hostile.rs"]
mod hostile;
use hostile::{envelope_like, json};

/// Every code [`SealError::code`] gives.
const SEAL_CODES: &[&str] = &[
    "too_large",
    "malformed",
    "version",
    "bad_tag",
    "stale",
    "replayed",
];

const EVENT_TOPIC: &str = "armory/v1/SLM/SLM-L1/event/reader/R1";
const COMMAND_TOPIC: &str = "armory/v1/SLM/SLM-L1/command/compartment/3";

fn now() -> Timestamp {
    Timestamp::from_second(1_796_306_400).expect("valid instant")
}

fn key() -> LockerKey {
    let secret = FleetSecret::from_hex(&"5a".repeat(32)).expect("64 hex digits");
    secret.locker_key(&LockerId::from("SLM-L1"))
}

fn genuine_scan() -> Vec<u8> {
    let body = DeviceEvent::Scan {
        badge_uid: "618C664A".into(),
        pin_sealed: None,
        fingerprint_match: None,
        request: AccessRequest::Return,
    };
    let lifetime = SignedDuration::from_secs(5);
    SealedEnvelope::seal(&key(), EVENT_TOPIC, "SLM-L1", 7, now(), lifetime, body).to_bytes()
}

fn genuine_unlock() -> Vec<u8> {
    let body = Command::Unlock {
        transaction: uuid::Uuid::nil(),
        purpose: UnlockPurpose::Return,
    };
    let lifetime = SignedDuration::from_secs(5);
    SealedEnvelope::seal(&key(), COMMAND_TOPIC, "armory", 9, now(), lifetime, body).to_bytes()
}

/// Opens `bytes` as both an event and a command; both must refuse with a
/// known code.
fn refused_both_ways(bytes: &[u8]) -> Result<(), TestCaseError> {
    let event = SealedEnvelope::<DeviceEvent>::open(&key(), EVENT_TOPIC, bytes, now());
    let command = SealedEnvelope::<Command>::open(&key(), COMMAND_TOPIC, bytes, now());
    for code in [
        event.err().map(|e| e.code()),
        command.err().map(|e| e.code()),
    ] {
        prop_assert!(code.is_some(), "random input was accepted");
        prop_assert!(code.is_some_and(|code| SEAL_CODES.contains(&code)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_open(bytes in prop::collection::vec(any::<u8>(), 0..10_000)) {
        refused_both_ways(&bytes)?;
    }

    #[test]
    fn random_json_never_opens(value in json()) {
        refused_both_ways(&serde_json::to_vec(&value).expect("JSON serialises"))?;
    }

    #[test]
    fn envelope_shaped_json_never_opens(value in envelope_like()) {
        refused_both_ways(&serde_json::to_vec(&value).expect("JSON serialises"))?;
    }

    /// Changing, inserting or cutting bytes of a genuine message yields a
    /// refusal, or the very same envelope (a tag digit in upper case is
    /// the same tag).
    #[test]
    fn a_mutated_envelope_opens_as_itself_or_not_at_all(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let genuine = [(EVENT_TOPIC, genuine_scan()), (COMMAND_TOPIC, genuine_unlock())];
        for (topic, original) in genuine {
            let mut bytes = original.clone();
            let index = at.index(bytes.len());
            match how {
                0 => bytes[index] = byte,
                1 => bytes.insert(index, byte),
                _ => bytes.truncate(index),
            }
            if topic == EVENT_TOPIC {
                let expected = SealedEnvelope::<DeviceEvent>::open(&key(), topic, &original, now());
                let opened = SealedEnvelope::<DeviceEvent>::open(&key(), topic, &bytes, now());
                if let Ok(mut envelope) = opened {
                    envelope.tag.make_ascii_lowercase();
                    prop_assert_eq!(Ok(envelope), expected);
                }
            } else {
                let expected = SealedEnvelope::<Command>::open(&key(), topic, &original, now());
                let opened = SealedEnvelope::<Command>::open(&key(), topic, &bytes, now());
                if let Ok(mut envelope) = opened {
                    envelope.tag.make_ascii_lowercase();
                    prop_assert_eq!(Ok(envelope), expected);
                }
            }
        }
    }

    /// Any text parses or is refused; what parses names itself exactly.
    #[test]
    fn topics_parse_to_their_own_name_or_are_refused(
        name in prop_oneof![
            ".{0,120}",
            "armory/v1/[^/]{0,70}/[^/]{0,70}/(event|command|state)/[^/]{0,20}(/[^/]{0,20})?",
            concat!(
                "armory/v1/(SLM|PDX)/(SLM-L1|PDX-L2)/event/",
                "(controller|reader/R[0-9]|compartment/[0-9]{1,6})"
            ),
        ]
    ) {
        if let Ok(topic) = Topic::parse(&name) {
            prop_assert_eq!(topic.name(), name);
        }
    }

    #[test]
    fn topics_from_raw_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut name = b"armory/v1/".to_vec();
        name.extend_from_slice(&bytes);
        let _ = Topic::parse(&String::from_utf8_lossy(&name));
    }

    /// Random bytes, or a real export with one byte changed, read or are
    /// refused with the file's name and a line within the file.
    #[test]
    fn csv_exports_read_or_are_refused_with_a_location(
        which in 0..6usize,
        random in prop::collection::vec(any::<u8>(), 0..4_000),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        mutate in any::<bool>(),
    ) {
        let names = ["sites.csv", "lockers.csv", "inventory.csv", "roster.csv", "training.csv",
            "pins.csv"];
        let name = names[which];
        let bytes = if mutate {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
            let mut real = std::fs::read(dir.join(name)).expect("demo file");
            let index = at.index(real.len());
            real[index] = byte;
            real
        } else {
            random
        };
        let lines = bytes.split(|b| *b == b'\n').count();
        let errors = match which {
            0 => import::parse_sites(name, &bytes).err(),
            1 => import::parse_lockers(name, &bytes).err(),
            2 => import::parse_inventory(name, &bytes).err(),
            3 => import::parse_roster(name, &bytes).err(),
            4 => import::parse_training(name, &bytes).err(),
            _ => import::parse_pins(name, &bytes).err(),
        };
        for error in errors.iter().flat_map(|errors| errors.iter()) {
            prop_assert_eq!(&error.file, name);
            prop_assert!(error.line <= lines, "line {} of {}", error.line, lines);
            // A message, and not a novel: a bad field's text is cut short.
            prop_assert!(!error.message.is_empty() && error.message.len() < 2_000);
        }
    }

    /// Random text, or the default configuration with a line changed,
    /// reads or is refused with every problem located within the file.
    #[test]
    fn configurations_read_or_are_refused_with_a_location(
        random in ".{0,400}",
        line in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(String::new()),
            "[a-z_.]{1,20} = [0-9]{1,12}",
            "[a-z_]{1,12} = \"[^\"\\\\]{0,30}\"",
            "\\[\\[?[a-z_.]{1,20}\\]\\]?",
            ".{0,60}",
        ],
        mutate in any::<bool>(),
    ) {
        let text = if mutate {
            let mut lines: Vec<&str> = Config::default_toml().lines().collect();
            let index = line.index(lines.len());
            lines[index] = &replacement;
            lines.join("\n")
        } else {
            random
        };
        let origin = Path::new("/etc/armory/armory.toml");
        if let Err(error) = Config::from_str_at(&text, origin) {
            let count = text.lines().count().max(1) + 1;
            prop_assert!(error.to_string().starts_with("/etc/armory/armory.toml"));
            prop_assert!(!error.problems().is_empty());
            for problem in error.problems() {
                prop_assert!((1..=count).contains(&problem.line), "{problem:?}");
                prop_assert!(problem.column >= 1, "{problem:?}");
            }
        }
    }
}
