//! The scans a locker has handed to each reader that the reader may not
//! have decided yet, so that none is lost with a reader's actor that fails.
//!
//! A reader decides its scans one at a time, in the order the locker
//! handed them over. When its actor fails (an error, a panic, a flood of
//! garbage), the scans still waiting in its mailbox go with it, and nobody
//! else would ever audit them or answer the hardware. So the locker keeps
//! the last [`UNDECIDED_PER_READER`] scans it routed to each reader. The
//! mailbox is first in, first out, so the scans a failed reader left
//! undecided are always the most recent ones: the window covers a backlog
//! of that many scans at one reader, where a reader normally holds none or
//! one (each scan is a person at its panel, decided in milliseconds). The
//! window is a count, not an age, because a backlog outlives any timeout
//! while the store is slow, and that is when a reader is most likely to
//! fail; older scans than the window are forgotten unaudited if they are
//! somehow still waiting.
//!
//! When the reader's actor fails, whether it is then restarted or isolated,
//! every remembered scan is denied as `reader_failed` through the same path
//! as a scan at an isolated reader. The store holds each event id once, so
//! a scan the reader had decided (granted or denied) keeps its own row and
//! outcome and gets nothing more; only the undecided are denied, shown on
//! the reader's display and announced. Nothing opens for them.

use std::collections::{HashMap, VecDeque};

use super::LockerState;
use crate::domain::ReaderId;
use crate::reader::Scan;
use crate::rules::Reason;

/// How many of the scans last routed to a reader are remembered.
pub(super) const UNDECIDED_PER_READER: usize = 32;

/// The last scans routed to each reader, oldest first.
#[derive(Debug, Default)]
pub(super) struct Undecided {
    by_reader: HashMap<ReaderId, VecDeque<Scan>>,
}

impl Undecided {
    /// A scan is being handed to `reader`; the oldest remembered one is
    /// forgotten once the window is full.
    pub(super) fn routed(&mut self, reader: &ReaderId, scan: Scan) {
        let scans = self.by_reader.entry(reader.clone()).or_default();
        if scans.len() == UNDECIDED_PER_READER {
            scans.pop_front();
        }
        scans.push_back(scan);
    }

    /// Every scan remembered for `reader`, oldest first; it is forgotten.
    pub(super) fn take(&mut self, reader: &ReaderId) -> VecDeque<Scan> {
        self.by_reader.remove(reader).unwrap_or_default()
    }
}

impl LockerState {
    /// `reader`'s actor failed: denies the scans it left undecided.
    pub(super) async fn deny_undecided(&mut self, reader: &ReaderId) {
        let scans = self.undecided.take(reader);
        tracing::debug!(
            locker = %self.locker.id,
            reader = %reader,
            remembered = scans.len(),
            "closing out the scans of a failed reader"
        );
        for scan in scans {
            self.deny_at_reader(reader.clone(), scan, Reason::ReaderFailed)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AccessRequest;

    fn scan() -> Scan {
        Scan {
            event_id: uuid::Uuid::new_v4(),
            badge_uid: "0A0A0A0A".into(),
            pin_sealed: None,
            fingerprint_match: Some(true),
            request: AccessRequest::Return,
        }
    }

    #[test]
    fn keeps_the_most_recent_scans_of_each_reader() {
        let mut undecided = Undecided::default();
        let (r1, r2) = (ReaderId::from("R1"), ReaderId::from("R2"));
        let scans: Vec<Scan> = (0..UNDECIDED_PER_READER + 3).map(|_| scan()).collect();
        for scan in &scans {
            undecided.routed(&r1, scan.clone());
        }
        undecided.routed(&r2, scan());

        let kept: Vec<_> = undecided.take(&r1).iter().map(|s| s.event_id).collect();
        let newest: Vec<_> = scans[3..].iter().map(|s| s.event_id).collect();
        assert_eq!(kept, newest);
        assert!(undecided.take(&r1).is_empty(), "taken scans are forgotten");
        assert_eq!(undecided.take(&r2).len(), 1);
    }
}
