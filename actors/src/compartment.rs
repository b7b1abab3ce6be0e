//! One compartment: its lock, door and presence sensor.
//!
//! It sends the sealed unlock command for a granted sign-out or return,
//! then follows the door: opened, closed with the weapon gone (sign-out) or
//! back (return). Only then does it ask the weapon to record the change. A
//! granted opening whose door never opens within the unlock window is
//! closed out: the reservation is dropped and an `unlock_expired` row is
//! written. The command is never retained and expires within seconds, so a
//! stale copy opens nothing.
//!
//! Messages: [`CompartmentMsg::Unlock`], [`CompartmentMsg::Device`],
//! [`CompartmentMsg::WindowElapsed`].

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use uuid::Uuid;

use crate::activity::Happening;
use crate::domain::{AssetTag, CompartmentNo, EmployeeId, LockerId, SiteId, WeaponClass};
use crate::locker::LockerMsg;
use crate::ports::{AuditAction, BusError, Decision};
use crate::protocol::seal::Header;
use crate::protocol::{
    Command, CompartmentStatePayload, DeviceEvent, DoorState, LockerKey, SealedEnvelope, Topic,
    UnlockPurpose, SCHEMA_VERSION,
};
use crate::services::Services;
use crate::weapon::WeaponMsg;

mod faults;

/// The compartment actor.
pub struct CompartmentActor;

/// What a compartment actor starts from.
pub struct CompartmentArguments {
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Its number.
    pub number: CompartmentNo,
    /// The weapon whose home it is, and its actor.
    pub home_of: Option<AssetTag>,
    /// The actor of the weapon whose home it is.
    pub home_weapon: Option<ActorRef<WeaponMsg>>,
    /// The class of the weapon whose home it is.
    pub home_class: Option<WeaponClass>,
    /// The locker's key, for sealing commands.
    pub key: LockerKey,
    /// Its locker, told when something changes.
    pub parent: ActorRef<LockerMsg>,
    /// Shared services.
    pub services: Services,
}

/// A compartment's live state.
pub struct CompartmentState {
    args: CompartmentArguments,
    door: DoorState,
    weapon_present: Option<bool>,
    pending: Option<PendingOpening>,
    /// Why the compartment is held locked (missing or wrong weapon); only
    /// an armorer's service opening clears it.
    held: Option<&'static str>,
    /// A door alarm (held open, forced open) until acknowledged and closed.
    alarm: Option<&'static str>,
    alarm_acknowledged: bool,
    /// Door openings so far, to match held-open checks to their opening.
    openings: u64,
    /// Unlocks in a row whose door never opened; two mean a jammed lock.
    failed_unlocks: u32,
}

/// A granted opening in progress.
pub struct PendingOpening {
    /// The sign-out or return.
    pub transaction: Uuid,
    /// Why.
    pub purpose: UnlockPurpose,
    /// The weapon concerned.
    pub weapon: ActorRef<WeaponMsg>,
    /// Its asset tag.
    pub asset_tag: AssetTag,
    /// Its class.
    pub weapon_class: WeaponClass,
    /// Who it is for.
    pub holder: EmployeeId,
    /// Whether the door has opened.
    pub door_opened: bool,
    /// Resumed from the store after a restart: the door may have opened
    /// while nobody was listening; if nothing is heard within the window,
    /// the opening is closed out as interrupted.
    pub resumed: bool,
}

/// How a fault drill makes a compartment or reader actor fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrillFault {
    /// Its handler returns an error.
    Error,
    /// Its handler panics, as a bug would make it; ractor catches the
    /// panic and reports the actor failed to its supervisor, the locker.
    Panic,
}

/// Why a compartment refused to unlock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockRefusal {
    /// Another opening is in progress.
    #[error("compartment is busy with another opening")]
    Busy,
    /// Held locked after a missing or wrong weapon; only service opens it.
    #[error("compartment is held: {reason}")]
    Held {
        /// Why.
        reason: &'static str,
    },
    /// The command could not be queued.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Messages to a compartment.
pub enum CompartmentMsg {
    /// Open for a granted sign-out or return.
    Unlock {
        /// What the opening is for.
        opening: Box<PendingOpening>,
        /// Whether the command left.
        reply: RpcReplyPort<Result<(), UnlockRefusal>>,
    },
    /// An authenticated event from its hardware.
    Device(DeviceEvent),
    /// A supervisor or armorer acknowledged the locker's alarms.
    Acknowledge,
    /// The door-open limit after opening number `opening` has passed.
    DoorOpenCheck {
        /// Which opening of the door (they are counted).
        opening: u64,
    },
    /// Fail on purpose, for fault drills and their tests: reachable only
    /// in-process, never from the bus.
    FaultDrill(DrillFault),
    /// The unlock window of `transaction` has passed.
    WindowElapsed {
        /// The opening it was for.
        transaction: Uuid,
    },
}

impl Actor for CompartmentActor {
    type Msg = CompartmentMsg;
    type State = CompartmentState;
    type Arguments = CompartmentArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<CompartmentMsg>,
        args: CompartmentArguments,
    ) -> Result<CompartmentState, ActorProcessingErr> {
        // Unknown until the hardware speaks: never assume locked.
        let state = CompartmentState {
            args,
            door: DoorState::Unknown,
            weapon_present: None,
            pending: None,
            held: None,
            alarm: None,
            alarm_acknowledged: false,
            openings: 0,
            failed_unlocks: 0,
        };
        let mut state = state;
        state.resume(&myself).await;
        state.publish();
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<CompartmentMsg>,
        message: CompartmentMsg,
        state: &mut CompartmentState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CompartmentMsg::Unlock { opening, reply } => {
                let outcome = state.unlock(&myself, *opening);
                let _ = reply.send(outcome);
            }
            CompartmentMsg::Device(event) => state.on_device(&myself, event).await,
            CompartmentMsg::DoorOpenCheck { opening } => state.door_open_check(opening).await,
            CompartmentMsg::FaultDrill(fault) => {
                // A deliberate failure for fault drills: the supervisor
                // must restart this actor and the opening must resume.
                tracing::warn!(
                    locker = %state.args.locker,
                    compartment = state.args.number,
                    ?fault,
                    "fault drill"
                );
                let what = "fault drill: compartment actor failed on purpose";
                match fault {
                    DrillFault::Error => return Err(From::from(what)),
                    // Reachable only from a drill, never from input.
                    DrillFault::Panic => panic!("{what}"),
                }
            }
            CompartmentMsg::Acknowledge => state.acknowledge(),
            CompartmentMsg::WindowElapsed { transaction } => {
                state.on_window_elapsed(transaction).await;
            }
        }
        Ok(())
    }
}

impl CompartmentState {
    fn unlock(
        &mut self,
        myself: &ActorRef<CompartmentMsg>,
        opening: PendingOpening,
    ) -> Result<(), UnlockRefusal> {
        if self.pending.is_some() {
            return Err(UnlockRefusal::Busy);
        }
        if let Some(reason) = self.held {
            if opening.purpose != UnlockPurpose::Service {
                return Err(UnlockRefusal::Held { reason });
            }
        }

        let services = &self.args.services;
        let topic = Topic::CompartmentCommand {
            site: self.args.site.clone(),
            locker: self.args.locker.clone(),
            compartment: self.args.number,
        }
        .name();
        let command = Command::Unlock {
            transaction: opening.transaction,
            purpose: opening.purpose,
        };
        let header = Header {
            id: Uuid::new_v4(),
            sender: "armory",
            counter: services.commands.next(),
            at: services.clock.now(),
            lifetime: services.timing.command_lifetime,
        };
        let sealed = SealedEnvelope::seal_with_id(&self.args.key, &topic, header, command);
        services.bus.publish_command(topic, sealed.to_bytes())?;
        metrics::counter!("armory_unlock_commands_total").increment(1);

        let transaction = opening.transaction;
        myself.send_after(services.timing.unlock_window, move || {
            CompartmentMsg::WindowElapsed { transaction }
        });
        self.pending = Some(opening);
        self.door = DoorState::Unlocking;
        self.publish();
        Ok(())
    }

    async fn on_device(&mut self, myself: &ActorRef<CompartmentMsg>, event: DeviceEvent) {
        match event {
            DeviceEvent::DoorOpened => {
                self.door = DoorState::Open;
                self.openings = self.openings.wrapping_add(1);
                let opening = self.openings;
                myself.send_after(self.args.services.timing.door_open_limit, move || {
                    CompartmentMsg::DoorOpenCheck { opening }
                });
                match &mut self.pending {
                    Some(pending) => {
                        pending.door_opened = true;
                        self.failed_unlocks = 0;
                    }
                    None => {
                        let message =
                            format!("{} opened without an unlock", self.compartment_name());
                        self.raise_alarm("door_forced", message).await;
                    }
                }
                self.publish();
            }
            DeviceEvent::DoorClosed { weapon_present } => {
                self.door = DoorState::Closed;
                self.weapon_present = Some(weapon_present);
                self.clear_alarm_if_resolved();
                self.publish();
                if self.pending.is_some() {
                    self.on_door_closed(weapon_present).await;
                } else {
                    self.check_contents(weapon_present).await;
                }
            }
            DeviceEvent::WeaponTagRead { asset_tag } => {
                if self.args.home_of.as_ref() != Some(&asset_tag) {
                    let message = format!(
                        "{} holds {asset_tag}, not its own weapon {}",
                        self.compartment_name(),
                        self.args.home_of.as_ref().map_or("(none)", |a| a.as_str())
                    );
                    self.hold("wrong_weapon", message).await;
                }
            }
            other => {
                tracing::warn!(
                    locker = %self.args.locker,
                    compartment = self.args.number,
                    kind = other.kind(),
                    "event has no meaning for a compartment"
                );
                metrics::counter!("armory_device_events_rejected_total", "reason" => "misrouted")
                    .increment(1);
            }
        }
    }

    async fn on_door_closed(&mut self, weapon_present: bool) {
        let Some(pending) = self.pending.take_if(|pending| pending.door_opened) else {
            return;
        };

        // A resumed opening (see `faults::resume`) learns from the door that
        // nothing moved: its unlock never reached the lock, or it did and
        // the person left. Either way the restart cut it; it is closed out
        // as interrupted, as if its window had passed, not as an anomaly.
        let moved = match pending.purpose {
            UnlockPurpose::SignOut => !weapon_present,
            UnlockPurpose::Return | UnlockPurpose::Service => weapon_present,
        };
        if pending.resumed && !moved {
            let transaction = pending.transaction;
            self.pending = Some(pending);
            return self.on_window_elapsed(transaction).await;
        }

        let mut happening = self.happening();
        happening.employee_id = Some(pending.holder.clone());
        happening.asset_tag = Some(pending.asset_tag.clone());
        happening.weapon_class = Some(pending.weapon_class);
        happening.transaction = Some(pending.transaction);
        let services = &self.args.services;

        if pending.purpose == UnlockPurpose::Service {
            pending
                .weapon
                .cast(WeaponMsg::EndService {
                    transaction: pending.transaction,
                })
                .ok();
            if weapon_present {
                if self.held.take().is_some() {
                    self.tell_locker_held(false);
                }
                happening.announce(services, "service_closed", "service_closed");
            } else {
                self.pending = None;
                let message = format!("{} closed empty after service", self.compartment_name());
                self.hold("weapon_missing", message).await;
            }
            self.publish();
            self.tell_locker();
            return;
        }

        let completed = match pending.purpose {
            UnlockPurpose::SignOut => !weapon_present,
            UnlockPurpose::Return | UnlockPurpose::Service => weapon_present,
        };
        if !completed {
            let put_back = match ractor::call!(pending.weapon, WeaponMsg::Status) {
                Ok(view) => view.status == crate::domain::ServiceStatus::Quarantined,
                Err(_) => false,
            };
            pending
                .weapon
                .cast(WeaponMsg::Release {
                    transaction: pending.transaction,
                })
                .ok();
            if put_back {
                happening.announce(services, "weapon_put_back", "weapon_put_back");
                self.tell_locker();
                return;
            }
            let reason = match pending.purpose {
                UnlockPurpose::SignOut => "weapon_not_taken",
                UnlockPurpose::Return | UnlockPurpose::Service => "weapon_not_returned",
            };
            happening.record_anomaly(services, reason).await;
            self.tell_locker();
            return;
        }

        let transaction = pending.transaction;
        let (kind, outcome) = match pending.purpose {
            UnlockPurpose::SignOut => (
                "signed_out",
                ractor::call!(pending.weapon, |reply| WeaponMsg::ConfirmSignOut {
                    transaction,
                    reply
                }),
            ),
            UnlockPurpose::Return | UnlockPurpose::Service => (
                "returned",
                ractor::call!(pending.weapon, |reply| WeaponMsg::ConfirmReturn {
                    transaction,
                    reply
                }),
            ),
        };
        match outcome {
            Ok(Ok(())) => {
                tracing::info!(
                    locker = %self.args.locker,
                    compartment = self.args.number,
                    weapon = %pending.asset_tag,
                    employee = %pending.holder,
                    kind,
                    "weapon movement recorded"
                );
                happening.announce(services, kind, kind);
            }
            Ok(Err(error)) => {
                tracing::error!(weapon = %pending.asset_tag, %error, kind, "movement not recorded");
                happening
                    .record_anomaly(services, "movement_not_recorded")
                    .await;
            }
            Err(error) => {
                let weapon = &pending.asset_tag;
                tracing::error!(%weapon, %error, kind, "weapon actor unreachable");
                happening
                    .record_anomaly(services, "weapon_unreachable")
                    .await;
            }
        }
        self.tell_locker();
    }

    async fn on_window_elapsed(&mut self, transaction: Uuid) {
        let expired = self.pending.take_if(|pending| {
            pending.transaction == transaction && (!pending.door_opened || pending.resumed)
        });
        let Some(pending) = expired else {
            return;
        };
        let reason = if pending.resumed {
            "interrupted"
        } else {
            "unlock_expired"
        };

        pending.weapon.cast(WeaponMsg::Release { transaction }).ok();
        if self.door == DoorState::Unlocking {
            self.door = DoorState::Closed;
        }

        let mut happening = self.happening();
        happening.employee_id = Some(pending.holder.clone());
        happening.asset_tag = Some(pending.asset_tag.clone());
        happening.weapon_class = Some(pending.weapon_class);
        happening.transaction = Some(transaction);
        let services = &self.args.services;
        let entry = happening.audit_entry(AuditAction::UnlockExpired, Decision::Recorded, reason);
        if let Err(error) = services.store.commit(entry, None).await {
            tracing::error!(locker = %self.args.locker, %error, "expiry not recorded");
        }
        metrics::counter!("armory_unlocks_expired_total").increment(1);
        happening.announce(services, "unlock_expired", reason);
        if !pending.resumed {
            self.unlock_failed().await;
        }
        tracing::warn!(
            locker = %self.args.locker,
            compartment = self.args.number,
            %transaction,
            "unlock window passed with the door shut"
        );
        self.publish();
        self.tell_locker();
    }

    fn compartment_name(&self) -> String {
        format!("{} compartment {}", self.args.locker, self.args.number)
    }

    fn happening(&self) -> Happening {
        let mut happening = Happening::at_locker(
            &self.args.site,
            &self.args.locker,
            self.args.services.clock.now(),
        );
        happening.compartment = Some(self.args.number);
        happening
    }

    fn tell_locker_held(&self, held: bool) {
        let message = LockerMsg::Held {
            compartment: self.args.number,
            held,
        };
        if self.args.parent.cast(message).is_err() {
            tracing::warn!(locker = %self.args.locker, "locker gone; hold not reported");
        }
    }

    fn tell_locker(&self) {
        if self.args.parent.cast(LockerMsg::Changed).is_err() {
            tracing::warn!(locker = %self.args.locker, "locker gone; state not republished");
        }
    }

    fn publish(&self) {
        let topic = Topic::CompartmentState {
            site: self.args.site.clone(),
            locker: self.args.locker.clone(),
            compartment: self.args.number,
        };
        let payload = CompartmentStatePayload {
            v: SCHEMA_VERSION,
            site: self.args.site.clone(),
            locker: self.args.locker.clone(),
            compartment: self.args.number,
            weapon: self.args.home_of.clone(),
            door: self.door,
            weapon_present: self.weapon_present,
            held: self.held.map(str::to_owned),
            alarm: self.alarm.map(str::to_owned),
            at: self.args.services.clock.now(),
        };
        self.args.services.bus.publish_state(topic.name(), &payload);
    }
}
