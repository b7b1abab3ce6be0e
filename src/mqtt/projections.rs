//! The retained state the service has published, remembered per topic, so
//! that state someone else publishes on the service's topics is noticed
//! and put right at once.
//!
//! The broker lets any logged-in client publish on any topic, and state is
//! not sealed: a dashboard login could leave a weapon shown as signed out,
//! or the service shown as offline, for every later subscriber. The store
//! is the truth, so the service listens to its own state topics and, when
//! a payload arrives that is none of the last few it published there, it
//! publishes its own again, retained. Its own messages come back too, in
//! order; a payload that matches one of its recent ones is its own echo.
//! A topic it never published (another service's, or a forgery on a topic
//! of no locker or weapon) is left alone. The cost is one echo through the
//! broker for each state message the service publishes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The topics watched, subscribed at QoS 0: every locker's state topics
/// and the service's own.
pub const STATE_FILTERS: [&str; 2] = ["armory/v1/+/+/state/#", "armory/v1/service/#"];

/// How many of its own recent payloads per topic count as its echo: a
/// thing that changes twice before its first echo arrives is not mistaken
/// for a forgery.
const RECENT_PER_TOPIC: usize = 4;

/// The service's recent retained payloads, by topic.
#[derive(Default)]
pub struct Projections {
    recent: Mutex<HashMap<String, VecDeque<Vec<u8>>>>,
}

impl Projections {
    /// Whether `topic` is one of the watched state topics.
    pub fn watches(topic: &str) -> bool {
        // Every message the service receives passes here: no allocation.
        let mut levels = topic.split('/');
        if levels.next() != Some("armory") || levels.next() != Some("v1") {
            return false;
        }
        matches!(
            (levels.next(), levels.next(), levels.next()),
            (Some("service"), Some(_), None) | (Some(_), Some(_), Some("state"))
        )
    }

    /// Notes a retained payload the service is about to publish.
    pub fn remember(&self, topic: &str, payload: &[u8]) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let payloads = recent.entry(topic.to_owned()).or_default();
        payloads.push_back(payload.to_vec());
        while payloads.len() > RECENT_PER_TOPIC {
            payloads.pop_front();
        }
    }

    /// What to publish again when `payload` arrived on `topic`: the
    /// service's latest payload there, if this one is not its own.
    pub fn correction(&self, topic: &str, payload: &[u8]) -> Option<Vec<u8>> {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let payloads = recent.get(topic)?;
        if payloads.iter().any(|own| own == payload) {
            return None;
        }
        payloads.back().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::Projections;

    const WEAPON: &str = "armory/v1/SLM/SLM-L1/state/weapon/LL-01001";

    #[test]
    fn the_watched_topics_are_state_and_the_service() {
        assert!(Projections::watches(WEAPON));
        assert!(Projections::watches("armory/v1/SLM/SLM-L1/state"));
        assert!(Projections::watches("armory/v1/service/state"));
        assert!(!Projections::watches(
            "armory/v1/SLM/SLM-L1/event/reader/R1"
        ));
        assert!(!Projections::watches("armory/v1/SLM/SLM-L1/activity"));
        assert!(!Projections::watches("elsewhere/v1/SLM/SLM-L1/state"));
    }

    #[test]
    fn own_echoes_pass_and_a_stranger_is_answered_with_the_latest() {
        let projections = Projections::default();
        projections.remember(WEAPON, b"available");
        projections.remember(WEAPON, b"reserved");
        projections.remember(WEAPON, b"signed out");

        // The first echo arrives after two later changes: still its own.
        assert_eq!(projections.correction(WEAPON, b"available"), None);
        assert_eq!(projections.correction(WEAPON, b"signed out"), None);
        assert_eq!(
            projections.correction(WEAPON, b"forged"),
            Some(b"signed out".to_vec())
        );
    }

    #[test]
    fn only_the_last_few_count_and_unknown_topics_are_left_alone() {
        let projections = Projections::default();
        for n in 0..10 {
            projections.remember(WEAPON, format!("state {n}").as_bytes());
        }
        assert!(projections.correction(WEAPON, b"state 0").is_some());
        assert!(projections.correction(WEAPON, b"state 9").is_none());
        assert!(projections
            .correction("armory/v1/SLM/SLM-L1/state/weapon/NOPE", b"forged")
            .is_none());
    }
}
