//! What a controller tells a service that has just come online: that it
//! is here, and what each closed compartment holds.
//!
//! A service that was down, or is starting, misses events: the embedded
//! broker accepts lockers before the service has subscribed, and events in
//! flight when it crashed die with it. A compartment whose opening the
//! service resumes from its store then waits for a door close that was
//! already sent. So whenever the retained service state says `online`
//! (on every subscription, and live when the service comes back), the
//! controller announces itself again and reports each closed compartment
//! as a `DoorClosed` with its presence reading. The service can only
//! publish `online` after it has subscribed to device events, so this
//! report reaches it.
//!
//! The service state is not sealed; a forged `online` only makes the
//! controller repeat what is true, which the service takes idempotently.

use armory_actors::domain::CompartmentNo;
use armory_actors::protocol::DeviceEvent;
use uuid::Uuid;

use super::{commands, compartment_no, Shared};
use crate::hardware::Door;

/// The service's retained state changed: report if it is online.
pub(super) fn on_service_state(shared: &Shared, payload: &[u8]) {
    let state: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    if state["status"] != "online" {
        return;
    }
    shared.send_event(
        shared.controller_topic(),
        Uuid::new_v4(),
        shared.online_event(),
    );

    // Queued while the state is locked, so that no door event of an unlock
    // or a close can slip in between a reading and its report.
    let state = shared.state();
    let mut reported = 0usize;
    for (index, slot) in state.slots.iter().enumerate() {
        if slot.hardware.door() != Door::Locked {
            continue;
        }
        let compartment: CompartmentNo = compartment_no(index);
        let body = DeviceEvent::DoorClosed {
            weapon_present: slot.hardware.weapon_present(),
        };
        shared.send_event(
            commands::compartment_topic(shared, compartment),
            Uuid::new_v4(),
            body,
        );
        reported += 1;
    }
    drop(state);
    tracing::debug!(locker = %shared.id, compartments = reported, "state reported to the service");
}
