//! One officer's scan as the locker's reader and doors see it.
//!
//! The scan event is sealed with a PIN bound to its own envelope id, the
//! scan waits for the reader's outcome by that id, and a grant then waits
//! for the door cycle of the compartment the outcome named (see
//! [`super::cycles`] for how a cycle is matched to its scan).

use std::time::Duration;

use armory_actors::domain::{CompartmentNo, ReaderId};
use armory_actors::protocol::{AccessRequest, DeviceEvent};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::{cycles, slot_index, LockerHandle, PendingScan};
use crate::scan::{Answer, DoorCycle, Presented, ScanOutcome};
use crate::SimError;

impl LockerHandle {
    /// Plays one scan at `reader` and waits for its outcome and door cycle.
    pub(crate) async fn scan(
        &self,
        reader: &ReaderId,
        presented: &Presented,
        request: AccessRequest,
        timeout: Duration,
    ) -> Result<ScanOutcome, SimError> {
        if !self.shared.readers.iter().any(|(id, _)| id == reader) {
            return Err(SimError::UnknownReader {
                locker: self.shared.id.clone(),
                reader: reader.clone(),
            });
        }

        // The PIN is sealed to the scan's own envelope id, so choose it first.
        let scan = Uuid::new_v4();
        let pin_sealed = presented
            .pin
            .as_deref()
            .map(|pin| self.shared.key.seal_pin(pin, &scan));
        let body = DeviceEvent::Scan {
            badge_uid: presented.badge.reveal().to_owned(),
            pin_sealed,
            fingerprint_match: presented.fingerprint_match,
            request,
        };

        // Register before publishing: the answer may come back at once.
        let (reply, answer) = oneshot::channel();
        let started = Instant::now();
        self.shared.state().pending_scans.insert(
            scan,
            PendingScan {
                reader: reader.clone(),
                reply,
            },
        );
        let topic = self.shared.reader_topic(reader);
        tracing::debug!(
            locker = %self.shared.id,
            reader = %reader,
            badge = %presented.badge.fingerprint(),
            scan = %scan,
            "scan"
        );
        self.shared.send_event(topic, scan, body);

        let answer = match tokio::time::timeout_at(started + timeout, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err(SimError::Stopped),
            Err(_) => {
                self.shared.state().pending_scans.remove(&scan);
                tracing::warn!(locker = %self.shared.id, scan = %scan, "no outcome in time");
                return Ok(ScanOutcome {
                    scan,
                    answer: Answer::NoAnswer,
                    outcome_latency: None,
                    door: None,
                });
            }
        };
        let outcome_latency = Some(answer.at.saturating_duration_since(started));

        if !answer.granted {
            return Ok(ScanOutcome {
                scan,
                answer: Answer::Denied {
                    reason: answer.reason,
                },
                outcome_latency,
                door: None,
            });
        }
        let door = match answer.compartment {
            Some(compartment) => {
                let deadline = answer.at + timeout + self.shared.handling_delay.1;
                self.door_cycle(compartment, started, deadline).await
            }
            None => None,
        };
        Ok(ScanOutcome {
            scan,
            answer: Answer::Granted {
                compartment: answer.compartment,
            },
            outcome_latency,
            door,
        })
    }

    /// Waits for the door cycle of a scan made at `started` to finish.
    async fn door_cycle(
        &self,
        compartment: CompartmentNo,
        started: Instant,
        deadline: Instant,
    ) -> Option<DoorCycle> {
        let claim = {
            let mut state = self.shared.state();
            let slot = state.slots.get_mut(slot_index(compartment)?)?;
            slot.cycles.claim(started)
        };
        let mut cycle = match claim {
            cycles::Claim::Ready(cycle) => cycle,
            cycles::Claim::Wait(receiver) => {
                match tokio::time::timeout_at(deadline, receiver).await {
                    Ok(Ok(cycle)) => cycle,
                    _ => {
                        tracing::warn!(locker = %self.shared.id, compartment, "no unlock in time");
                        return None;
                    }
                }
            }
        };

        let closed = tokio::time::timeout_at(deadline, cycle.wait_for(Option::is_some)).await;
        let closed = match closed {
            Ok(Ok(closed)) => (*closed)?,
            _ => {
                tracing::warn!(locker = %self.shared.id, compartment, "door not closed in time");
                return None;
            }
        };
        Some(DoorCycle {
            compartment,
            weapon_present: closed.weapon_present,
            latency: closed.at.saturating_duration_since(started),
        })
    }
}
