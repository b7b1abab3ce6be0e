//! The hardware model: a compartment's lock, door and presence sensor,
//! the event counter, and the human's handling time.

use std::time::Duration;

use armory_actors::protocol::UnlockPurpose;
use armory_device_sim::hardware::{human_delay, Compartment, Door, EventCounter, HardwareError};
use rand::rngs::StdRng;
use rand::SeedableRng;
use uuid::Uuid;

#[test]
fn a_sign_out_takes_the_weapon_and_a_return_puts_it_back() {
    let mut compartment = Compartment::new(4, true);
    assert_eq!(compartment.door(), Door::Locked);

    let out = Uuid::new_v4();
    assert_eq!(compartment.unlock(out, UnlockPurpose::SignOut), Ok(()));
    assert_eq!(
        compartment.door(),
        Door::Open {
            transaction: out,
            purpose: UnlockPurpose::SignOut,
        }
    );
    assert!(
        compartment.weapon_present(),
        "nothing taken until the door shuts"
    );
    assert_eq!(compartment.close(), Ok(false));
    assert_eq!(compartment.door(), Door::Locked);

    assert_eq!(
        compartment.unlock(Uuid::new_v4(), UnlockPurpose::Return),
        Ok(())
    );
    assert_eq!(compartment.close(), Ok(true));
    assert!(compartment.weapon_present());
}

#[test]
fn an_open_door_takes_no_second_unlock() {
    let mut compartment = Compartment::new(2, true);
    let first = Uuid::new_v4();
    compartment
        .unlock(first, UnlockPurpose::SignOut)
        .unwrap_or_else(|error| panic!("a locked door unlocks: {error}"));

    let second = compartment.unlock(Uuid::new_v4(), UnlockPurpose::Return);
    assert_eq!(
        second,
        Err(HardwareError::DoorAlreadyOpen {
            compartment: 2,
            open_for: first,
        })
    );
    assert_eq!(
        second.map_err(|error| error.code()),
        Err("door_already_open")
    );
}

#[test]
fn a_transaction_opens_a_compartment_once() {
    let mut compartment = Compartment::new(1, true);
    let transaction = Uuid::new_v4();
    assert_eq!(
        compartment.unlock(transaction, UnlockPurpose::SignOut),
        Ok(())
    );
    assert_eq!(compartment.close(), Ok(false));

    assert_eq!(
        compartment.unlock(transaction, UnlockPurpose::SignOut),
        Err(HardwareError::TransactionUsed {
            compartment: 1,
            transaction,
        })
    );
    assert_eq!(compartment.door(), Door::Locked);
}

#[test]
fn a_closed_door_cannot_close() {
    let mut compartment = Compartment::new(3, false);
    assert_eq!(
        compartment.close(),
        Err(HardwareError::DoorNotOpen { compartment: 3 })
    );
    assert!(!compartment.weapon_present());
}

#[test]
fn counters_follow_the_clock_and_never_repeat() {
    let mut counter = EventCounter::new();
    assert_eq!(counter.next(1_000), 1_000);
    assert_eq!(counter.next(1_000), 1_001, "same microsecond");
    assert_eq!(counter.next(900), 1_002, "clock stepped back");
    assert_eq!(counter.next(5_000), 5_000, "clock moved on");

    // A restarted controller starts from the clock, above its last run.
    let mut restarted = EventCounter::new();
    assert!(restarted.next(5_001) > 5_000);
}

#[test]
fn handling_time_stays_in_its_range() {
    let mut rng = StdRng::seed_from_u64(7);
    let range = (Duration::from_millis(300), Duration::from_millis(800));
    for _ in 0..1000 {
        let delay = human_delay(range, &mut rng);
        assert!(delay >= range.0 && delay <= range.1, "{delay:?}");
    }

    assert_eq!(
        human_delay((Duration::ZERO, Duration::ZERO), &mut rng),
        Duration::ZERO
    );
    let reversed = human_delay((range.1, range.0), &mut rng);
    assert!(reversed >= range.0 && reversed <= range.1);
}

#[test]
fn a_service_opening_leaves_the_weapon_where_it_was() {
    let mut full = Compartment::new(5, true);
    assert_eq!(full.unlock(Uuid::new_v4(), UnlockPurpose::Service), Ok(()));
    assert_eq!(full.close(), Ok(true));

    let mut empty = Compartment::new(6, false);
    assert_eq!(empty.unlock(Uuid::new_v4(), UnlockPurpose::Service), Ok(()));
    assert_eq!(empty.close(), Ok(false));
}
