//! Commands as a locker's controller takes them: checked, then carried out.
//!
//! A command is acted on only if it was not retained, came on one of this
//! locker's command topics, opens under the locker's key, is fresh, was
//! sent by `armory`, carries a counter above every earlier one, and fits
//! its topic (an unlock on a compartment, an outcome on a reader). Every
//! refusal is counted by its code and logged as a peer that misbehaves.

use std::sync::Arc;

use armory_actors::domain::{CompartmentNo, ReaderId};
use armory_actors::protocol::{Command, DeviceEvent, SealedEnvelope, Topic, UnlockPurpose};
use rumqttc::Publish;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::{slot_index, DoorClosed, ReaderAnswer, Shared};
use crate::hardware::human_delay;

/// The only sender whose commands a locker obeys.
const SERVICE_SENDER: &str = "armory";

/// Checks one incoming publish and carries it out if it passes.
pub(super) fn on_publish(shared: &Arc<Shared>, publish: Publish) {
    // A retained command could be replayed to every new subscriber.
    if publish.retain {
        refuse(shared, "retained", &publish.topic);
        return;
    }

    let ours = match Topic::parse(&publish.topic) {
        Ok(topic) => belongs_to(shared, &topic).then_some(topic),
        Err(_) => None,
    };
    let Some(topic) = ours else {
        refuse(shared, "foreign_topic", &publish.topic);
        return;
    };

    let opened = SealedEnvelope::<Command>::open(
        &shared.key,
        &publish.topic,
        &publish.payload,
        shared.clock.now(),
    );
    let envelope = match opened {
        Ok(envelope) => envelope,
        Err(error) => {
            refuse(shared, error.code(), &publish.topic);
            return;
        }
    };
    if envelope.sender != SERVICE_SENDER {
        refuse(shared, "bad_sender", &publish.topic);
        return;
    }
    let fresh = shared
        .state()
        .window
        .accept(&envelope.sender, envelope.counter);
    if let Err(error) = fresh {
        refuse(shared, error.code(), &publish.topic);
        return;
    }

    match (topic, envelope.body) {
        (
            Topic::CompartmentCommand { compartment, .. },
            Command::Unlock {
                transaction,
                purpose,
            },
        ) => unlock(shared, &publish.topic, compartment, transaction, purpose),
        (
            Topic::ReaderCommand { reader, .. },
            Command::ShowOutcome {
                scan,
                granted,
                reason,
                compartment,
            },
        ) => {
            let answer = ReaderAnswer {
                granted,
                reason,
                compartment,
                at: Instant::now(),
            };
            show_outcome(shared, &reader, scan, answer);
        }
        _ => refuse(shared, "wrong_topic", &publish.topic),
    }
}

fn belongs_to(shared: &Shared, topic: &Topic) -> bool {
    match topic {
        Topic::CompartmentCommand { site, locker, .. }
        | Topic::ReaderCommand { site, locker, .. } => *site == shared.site && *locker == shared.id,
        _ => false,
    }
}

fn refuse(shared: &Shared, code: &str, topic: &str) {
    let mut state = shared.state();
    *state
        .stats
        .commands_refused
        .entry(code.to_owned())
        .or_default() += 1;
    drop(state);
    tracing::warn!(locker = %shared.id, topic, reason = code, "command refused");
}

/// Releases a lock: the door opens now and closes after a human's delay.
fn unlock(
    shared: &Arc<Shared>,
    topic: &str,
    compartment: CompartmentNo,
    transaction: Uuid,
    purpose: UnlockPurpose,
) {
    let mut guard = shared.state();
    let state = &mut *guard;
    let Some(slot) = slot_index(compartment).and_then(|index| state.slots.get_mut(index)) else {
        drop(guard);
        refuse(shared, "unknown_compartment", topic);
        return;
    };
    if let Err(error) = slot.hardware.unlock(transaction, purpose) {
        drop(guard);
        refuse(shared, error.code(), topic);
        return;
    }
    let (closed_tx, closed_rx) = watch::channel(None);
    slot.cycles.started(Instant::now(), closed_rx);
    state.stats.commands_accepted += 1;
    let delay = human_delay(shared.handling_delay, &mut state.rng);
    drop(guard);

    tracing::debug!(
        locker = %shared.id,
        compartment,
        transaction = %transaction,
        purpose = ?purpose,
        "door opened"
    );
    shared.send_event(
        compartment_topic(shared, compartment),
        Uuid::new_v4(),
        DeviceEvent::DoorOpened,
    );

    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        close_door(&shared, compartment, closed_tx);
    });
}

/// The person shuts the door; the sensor reports and the scan learns it.
fn close_door(
    shared: &Shared,
    compartment: CompartmentNo,
    closed: watch::Sender<Option<DoorClosed>>,
) {
    let reading = {
        let mut state = shared.state();
        let slot = slot_index(compartment).and_then(|index| state.slots.get_mut(index));
        slot.map(|slot| slot.hardware.close())
    };
    let weapon_present = match reading {
        Some(Ok(present)) => present,
        Some(Err(error)) => {
            tracing::error!(locker = %shared.id, compartment, error = %error, "door close lost");
            return;
        }
        None => return,
    };

    shared.send_event(
        compartment_topic(shared, compartment),
        Uuid::new_v4(),
        DeviceEvent::DoorClosed { weapon_present },
    );
    tracing::debug!(locker = %shared.id, compartment, weapon_present, "door closed");
    closed.send_replace(Some(DoorClosed {
        at: Instant::now(),
        weapon_present,
    }));
}

/// The reader shows an outcome: the scan waiting for it learns it.
fn show_outcome(shared: &Shared, reader: &ReaderId, scan: Uuid, answer: ReaderAnswer) {
    let mut state = shared.state();
    state.stats.commands_accepted += 1;
    let pending = state.pending_scans.remove(&scan);
    match pending {
        Some(pending) if pending.reader == *reader => {
            // The scan may have given up just now; nothing else to do then.
            let _ = pending.reply.send(answer);
        }
        Some(pending) => {
            state.pending_scans.insert(scan, pending);
            state.stats.unmatched_outcomes += 1;
            drop(state);
            tracing::warn!(
                locker = %shared.id,
                reader = %reader,
                scan = %scan,
                "outcome on another reader"
            );
        }
        None => {
            state.stats.unmatched_outcomes += 1;
            drop(state);
            tracing::debug!(
                locker = %shared.id,
                reader = %reader,
                scan = %scan,
                "outcome for no pending scan"
            );
        }
    }
}

/// The event topic of one of this locker's compartments.
pub(super) fn compartment_topic(shared: &Shared, compartment: CompartmentNo) -> Topic {
    Topic::CompartmentEvent {
        site: shared.site.clone(),
        locker: shared.id.clone(),
        compartment,
    }
}
