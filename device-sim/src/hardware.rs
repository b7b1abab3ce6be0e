//! The pure hardware model of a locker: compartments and the event counter.
//!
//! A compartment is a lock, a door and a presence sensor. It starts closed
//! and locked, with or without its weapon. A valid unlock releases the lock
//! for one opening: the door opens at once, and when the person closes it
//! the presence sensor reports what they left behind. Nothing here does I/O
//! or reads a clock, so every transition is tested without a broker.

use std::time::Duration;

use armory_actors::domain::CompartmentNo;
use armory_actors::protocol::UnlockPurpose;
use rand::Rng;
use uuid::Uuid;

/// Why the hardware ignored a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HardwareError {
    /// An unlock arrived while the door was still open from another one.
    #[error("compartment {compartment} is already open for transaction {open_for}")]
    DoorAlreadyOpen {
        /// The compartment.
        compartment: CompartmentNo,
        /// The transaction the door is open for.
        open_for: Uuid,
    },
    /// The same transaction asked for a second opening.
    #[error("compartment {compartment} already opened once for transaction {transaction}")]
    TransactionUsed {
        /// The compartment.
        compartment: CompartmentNo,
        /// The transaction.
        transaction: Uuid,
    },
    /// A door close was reported for a door that is not open.
    #[error("compartment {compartment} is not open")]
    DoorNotOpen {
        /// The compartment.
        compartment: CompartmentNo,
    },
}

impl HardwareError {
    /// A short code for counters and logs.
    pub fn code(&self) -> &'static str {
        match self {
            HardwareError::DoorAlreadyOpen { .. } => "door_already_open",
            HardwareError::TransactionUsed { .. } => "transaction_used",
            HardwareError::DoorNotOpen { .. } => "door_not_open",
        }
    }
}

/// The door of a compartment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// Closed and locked.
    Locked,
    /// Open for one unlock.
    Open {
        /// The transaction that opened it.
        transaction: Uuid,
        /// What the person came to do.
        purpose: UnlockPurpose,
    },
}

/// One compartment's lock, door and presence sensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compartment {
    number: CompartmentNo,
    door: Door,
    weapon_present: bool,
    last_transaction: Option<Uuid>,
}

impl Compartment {
    /// A closed, locked compartment, with or without its weapon.
    pub fn new(number: CompartmentNo, weapon_present: bool) -> Self {
        Self {
            number,
            door: Door::Locked,
            weapon_present,
            last_transaction: None,
        }
    }

    /// The compartment's number.
    pub fn number(&self) -> CompartmentNo {
        self.number
    }

    /// The door as it is now.
    pub fn door(&self) -> Door {
        self.door
    }

    /// What the presence sensor reads now.
    pub fn weapon_present(&self) -> bool {
        self.weapon_present
    }

    /// Releases the lock for one opening; the door opens at once.
    ///
    /// A lock that is already open, or a transaction that already opened
    /// this compartment (a duplicate command), opens nothing more.
    pub fn unlock(
        &mut self,
        transaction: Uuid,
        purpose: UnlockPurpose,
    ) -> Result<(), HardwareError> {
        if let Door::Open {
            transaction: open_for,
            ..
        } = self.door
        {
            return Err(HardwareError::DoorAlreadyOpen {
                compartment: self.number,
                open_for,
            });
        }
        if self.last_transaction == Some(transaction) {
            return Err(HardwareError::TransactionUsed {
                compartment: self.number,
                transaction,
            });
        }

        self.door = Door::Open {
            transaction,
            purpose,
        };
        self.last_transaction = Some(transaction);
        Ok(())
    }

    /// The person has done what they came for and shuts the door, which
    /// locks; returns the presence sensor's reading.
    ///
    /// A sign-out takes the weapon out, a return puts it back, a service
    /// leaves it as it was.
    pub fn close(&mut self) -> Result<bool, HardwareError> {
        let Door::Open { purpose, .. } = self.door else {
            return Err(HardwareError::DoorNotOpen {
                compartment: self.number,
            });
        };

        self.weapon_present = match purpose {
            UnlockPurpose::SignOut => false,
            UnlockPurpose::Return => true,
            // An armorer services the weapon where it is.
            UnlockPurpose::Service => self.weapon_present,
        };
        self.door = Door::Locked;
        Ok(self.weapon_present)
    }
}

/// The counter a locker puts on its events: strictly increasing, and
/// above anything an earlier run of the same locker could have sent.
///
/// It follows the unix time in microseconds and adds one when events come
/// faster than that, so a restarted controller continues above its last
/// counter without storing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCounter {
    last: u64,
}

impl EventCounter {
    /// A counter that has issued nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter for the next event, given the unix time in microseconds.
    pub fn next(&mut self, now_micros: u64) -> u64 {
        self.last = now_micros.max(self.last.saturating_add(1));
        self.last
    }
}

/// The current unix time in microseconds; zero if the clock is before 1970.
pub fn unix_micros() -> u64 {
    let micros = jiff::Timestamp::now().as_microsecond();
    u64::try_from(micros).unwrap_or(0)
}

/// A human's handling time drawn from `range` (inclusive); a reversed
/// range is read in order, and an empty one gives its single value.
pub fn human_delay(range: (Duration, Duration), rng: &mut impl Rng) -> Duration {
    let (low, high) = if range.0 <= range.1 {
        range
    } else {
        (range.1, range.0)
    };
    if low == high {
        return low;
    }
    rng.gen_range(low..=high)
}
