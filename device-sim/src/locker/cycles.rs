//! Matching door cycles to the scans that caused them.
//!
//! An unlock names a transaction, a reader's outcome names a scan, and
//! nothing links the two but the compartment and the order of events; the
//! two commands may also arrive in either order. So each compartment keeps
//! the cycles no scan has claimed yet and the scans waiting for a cycle.
//! A scan claims the oldest unclaimed cycle that started after the scan
//! itself; a cycle that starts while scans wait goes to the oldest of them
//! that started before it. Each cycle goes to one scan at most.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// Unclaimed cycles kept per compartment; older ones are forgotten (their
/// unlocks came from someone other than this simulator's officers).
const MAX_UNCLAIMED: usize = 16;

/// What a claim gives: a cycle now, or a promise of the next one.
pub(super) enum Claim<C> {
    /// A cycle had already started.
    Ready(C),
    /// The next fitting cycle will be sent here.
    Wait(oneshot::Receiver<C>),
}

/// The unclaimed cycles and waiting scans of one compartment.
pub(super) struct CycleMatcher<C> {
    unclaimed: VecDeque<(Instant, C)>,
    waiting: VecDeque<(Instant, oneshot::Sender<C>)>,
}

impl<C> Default for CycleMatcher<C> {
    fn default() -> Self {
        Self {
            unclaimed: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }
}

impl<C> CycleMatcher<C> {
    /// A door cycle started at `at`: hand it to a waiting scan or keep it.
    pub(super) fn started(&mut self, at: Instant, cycle: C) {
        // Scans that gave up have dropped their receivers.
        self.waiting.retain(|(_, reply)| !reply.is_closed());

        let mut cycle = cycle;
        while let Some(index) = self.waiting.iter().position(|(since, _)| *since <= at) {
            let Some((_, reply)) = self.waiting.remove(index) else {
                break;
            };
            match reply.send(cycle) {
                Ok(()) => return,
                // It gave up between the check and now; try the next one.
                Err(returned) => cycle = returned,
            }
        }

        self.unclaimed.push_back((at, cycle));
        if self.unclaimed.len() > MAX_UNCLAIMED {
            self.unclaimed.pop_front();
        }
    }

    /// A scan made at `since` was granted this compartment: claims its cycle.
    pub(super) fn claim(&mut self, since: Instant) -> Claim<C> {
        if let Some(index) = self.unclaimed.iter().position(|(at, _)| *at >= since) {
            if let Some((_, cycle)) = self.unclaimed.remove(index) {
                return Claim::Ready(cycle);
            }
        }

        let (reply, receiver) = oneshot::channel();
        self.waiting.push_back((since, reply));
        Claim::Wait(receiver)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ready(claim: Claim<u32>) -> Option<u32> {
        match claim {
            Claim::Ready(cycle) => Some(cycle),
            Claim::Wait(_) => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_before_the_outcome_is_claimed_by_a_later_claim() {
        let mut matcher = CycleMatcher::default();
        let scan = Instant::now();
        matcher.started(scan + Duration::from_millis(5), 1);

        assert_eq!(ready(matcher.claim(scan)), Some(1));
        assert_eq!(ready(matcher.claim(scan)), None, "a cycle goes to one scan");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_after_the_outcome_goes_to_the_waiting_scan() {
        let mut matcher = CycleMatcher::default();
        let scan = Instant::now();
        let Claim::Wait(receiver) = matcher.claim(scan) else {
            panic!("nothing has started yet");
        };

        matcher.started(scan + Duration::from_millis(5), 7);
        assert_eq!(receiver.await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_older_than_the_scan_is_not_its_own() {
        let mut matcher = CycleMatcher::default();
        let old = Instant::now();
        let scan = old + Duration::from_millis(10);
        matcher.started(old, 1);

        assert_eq!(ready(matcher.claim(scan)), None);
        assert_eq!(ready(matcher.claim(old)), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_that_gave_up_does_not_swallow_a_cycle() {
        let mut matcher = CycleMatcher::default();
        let scan = Instant::now();
        drop(matcher.claim(scan));

        matcher.started(scan + Duration::from_millis(1), 3);
        assert_eq!(ready(matcher.claim(scan)), Some(3));
    }
}
