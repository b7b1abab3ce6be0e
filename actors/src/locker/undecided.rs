//! What a locker has handed to each reader that the reader may not have
//! decided yet (scans, panel reports, service records), so that none is
//! lost with a reader's actor that fails.
//!
//! A reader decides its events one at a time, in the order the locker
//! handed them over. When its actor fails (an error, a panic, a flood of
//! garbage), the events still waiting in its mailbox go with it, and nobody
//! else would ever audit them or answer the hardware. So the locker keeps
//! the last [`UNDECIDED_PER_READER`] events it routed to each reader. The
//! mailbox is first in, first out, so the events a failed reader left
//! undecided are always the most recent ones: the window covers a backlog
//! of that many events at one reader, where a reader normally holds none
//! or one (each is a person at its panel, decided in milliseconds). The
//! window is a count, not an age, because a backlog outlives any timeout
//! while the store is slow, and that is when a reader is most likely to
//! fail; events older than the window are forgotten unaudited if they are
//! somehow still waiting.
//!
//! When the reader's actor fails, whether it is then restarted or isolated,
//! every remembered event is refused as `reader_failed`: a scan through
//! the same path as a scan at an isolated reader (a denied row of its
//! request), a panel report or service record the way the reader refuses
//! one (a denied `anomaly` row). The store holds each event id once, so an
//! event the reader had decided (granted, denied, recorded or refused)
//! keeps its own row and outcome and gets nothing more; only the undecided
//! are refused, shown on the reader's display and announced. Nothing opens
//! for them and no weapon changes.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use super::LockerState;
use crate::domain::ReaderId;
use crate::protocol::DeviceEvent;
use crate::reader::Scan;
use crate::rules::Reason;

/// How many of the events last routed to a reader are remembered.
pub(super) const UNDECIDED_PER_READER: usize = 32;

/// One event handed to a reader.
#[derive(Clone, Debug)]
pub(super) enum Routed {
    /// A scan.
    Scan(Scan),
    /// A panel report or service record, with its event id.
    Panel(Uuid, DeviceEvent),
}

#[cfg(test)]
impl Routed {
    /// The event's envelope id, which the audit trail holds once.
    fn event_id(&self) -> Uuid {
        match self {
            Routed::Scan(scan) => scan.event_id,
            Routed::Panel(event_id, _) => *event_id,
        }
    }
}

/// The last events routed to each reader, oldest first.
#[derive(Debug, Default)]
pub(super) struct Undecided {
    by_reader: HashMap<ReaderId, VecDeque<Routed>>,
}

impl Undecided {
    /// An event is being handed to `reader`; the oldest remembered one is
    /// forgotten once the window is full.
    pub(super) fn routed(&mut self, reader: &ReaderId, event: Routed) {
        let events = self.by_reader.entry(reader.clone()).or_default();
        if events.len() == UNDECIDED_PER_READER {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Every event remembered for `reader`, oldest first; it is forgotten.
    pub(super) fn take(&mut self, reader: &ReaderId) -> VecDeque<Routed> {
        self.by_reader.remove(reader).unwrap_or_default()
    }
}

impl LockerState {
    /// `reader`'s actor failed: refuses the events it left undecided.
    pub(super) async fn deny_undecided(&mut self, reader: &ReaderId) {
        let events = self.undecided.take(reader);
        tracing::debug!(
            locker = %self.locker.id,
            reader = %reader,
            remembered = events.len(),
            "closing out the events of a failed reader"
        );
        for event in events {
            let reason = Reason::ReaderFailed;
            match event {
                Routed::Scan(scan) => self.deny_at_reader(reader.clone(), scan, reason).await,
                Routed::Panel(event_id, event) => {
                    self.refuse_panel_at_reader(reader.clone(), event_id, event, reason)
                        .await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AccessRequest;

    fn scan() -> Routed {
        Routed::Scan(Scan {
            event_id: Uuid::new_v4(),
            badge_uid: "0A0A0A0A".into(),
            pin_sealed: None,
            fingerprint_match: Some(true),
            request: AccessRequest::Return,
        })
    }

    fn report() -> Routed {
        let event = DeviceEvent::PanelReport {
            badge_uid: "0A0A0A0A".into(),
            asset_tag: "LL-01001".into(),
            deployments: Some(2),
            problem: None,
        };
        Routed::Panel(Uuid::new_v4(), event)
    }

    #[test]
    fn keeps_the_most_recent_events_of_each_reader() {
        let mut undecided = Undecided::default();
        let (r1, r2) = (ReaderId::from("R1"), ReaderId::from("R2"));
        let events: Vec<Routed> = (0..UNDECIDED_PER_READER + 3)
            .map(|n| if n % 2 == 0 { scan() } else { report() })
            .collect();
        for event in &events {
            undecided.routed(&r1, event.clone());
        }
        undecided.routed(&r2, report());

        let kept: Vec<_> = undecided.take(&r1).iter().map(Routed::event_id).collect();
        let newest: Vec<_> = events[3..].iter().map(Routed::event_id).collect();
        assert_eq!(kept, newest);
        assert!(undecided.take(&r1).is_empty(), "taken events are forgotten");
        assert_eq!(undecided.take(&r2).len(), 1);
    }
}
