//! The wall clock the rules read.
//!
//! Certification expiry is exact to the second, so tests must fix "now".
//! The service uses [`Clock::system`]; tests use [`Clock::manual`] and move
//! it by hand. Timers (unlock windows) use tokio's clock instead, so that a
//! test can pause and advance them.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// Where "now" comes from.
#[derive(Clone, Debug)]
pub struct Clock {
    manual: Option<Arc<Mutex<Timestamp>>>,
    /// When set, the wall clock is this instant plus the tokio time elapsed
    /// since the anchor, so a paused tokio clock drives both.
    anchored: Option<(Timestamp, tokio::time::Instant)>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self {
            manual: None,
            anchored: None,
        }
    }

    /// A clock that starts at `start` and moves with tokio's clock: in a
    /// test with a paused runtime, advancing tokio time moves "now" too.
    pub fn following_tokio(start: Timestamp) -> Self {
        Self {
            manual: None,
            anchored: Some((start, tokio::time::Instant::now())),
        }
    }

    /// A clock that stands still at `start` until moved.
    pub fn manual(start: Timestamp) -> Self {
        Self {
            manual: Some(Arc::new(Mutex::new(start))),
            anchored: None,
        }
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        if let Some((start, anchor)) = self.anchored {
            let elapsed = jiff::SignedDuration::try_from(anchor.elapsed()).unwrap_or_default();
            return crate::protocol::seal::later_by(start, elapsed);
        }
        match &self.manual {
            Some(fixed) => *fixed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => Timestamp::now(),
        }
    }

    /// Moves a manual clock to `to`; a system clock ignores this.
    pub fn set(&self, to: Timestamp) {
        if let Some(fixed) = &self.manual {
            *fixed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
        }
    }

    /// Moves a manual clock forward by `span`; a system clock ignores this.
    pub fn advance(&self, span: SignedDuration) {
        let now = self.now();
        self.set(crate::protocol::seal::later_by(now, span));
    }
}
