//! One locker: the parent of its readers, compartments and weapons.
//!
//! The locker authenticates every event its hardware sends (tag, freshness,
//! counter, duplicate id) and routes it to the reader or compartment it
//! names. It chooses the weapon for a granted sign-out: the least-used
//! available weapon of the class in this locker, reserved through the
//! weapon's own actor so that two requests never get the same weapon. It
//! publishes the locker's retained state. A child that fails is logged and
//! counted; the rest of the locker keeps working. The scans and panel
//! events a failed reader left undecided are refused as `reader_failed`.
//!
//! Messages: [`LockerMsg::Device`], [`LockerMsg::Allocate`],
//! [`LockerMsg::FindHeld`], [`LockerMsg::Changed`], and the others below.

mod children;
mod choosing;
mod gatekeeping;
mod health;
mod liveness;
mod routing;
mod undecided;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use uuid::Uuid;

use crate::activity::{Alert, Happening};
use crate::compartment::{CompartmentActor, CompartmentArguments, CompartmentMsg, DrillFault};
use crate::domain::{
    AssetTag, BadgeUid, CompartmentNo, EmployeeId, Locker, ReaderId, SiteId, Weapon, WeaponClass,
};
use crate::ports::{AuditAction, Decision};
use crate::protocol::Severity;
use crate::protocol::{
    CounterWindow, DeviceEvent, Liveness, LockerKey, LockerStatePayload, SealedEnvelope, Topic,
    WeaponCondition, SCHEMA_VERSION,
};
use crate::reader::{ReaderActor, ReaderArguments, ReaderMsg, Scan};
use crate::rules::Reason;
use crate::services::Services;
use crate::weapon::{WeaponActor, WeaponArguments, WeaponMsg, WeaponView};
use gatekeeping::{DualQueue, Lockouts};
pub use gatekeeping::{FailureOutcome, PendingDual};

/// How many recent event ids a locker remembers to spot redeliveries.
const RECENT_EVENTS: usize = 1024;

/// The locker actor.
pub struct LockerActor;

/// What a locker actor starts from.
pub struct LockerArguments {
    /// The locker's layout.
    pub locker: Locker,
    /// The weapons whose home is this locker.
    pub weapons: Vec<Weapon>,
    /// Shared services.
    pub services: Services,
}

/// A weapon chosen for a sign-out, or found for a return.
#[derive(Clone, Debug)]
pub struct Allocation {
    /// Weapon.
    pub asset_tag: AssetTag,
    /// Its class.
    pub weapon_class: WeaponClass,
    /// Its compartment.
    pub compartment: CompartmentNo,
    /// Its actor.
    pub weapon: ActorRef<WeaponMsg>,
    /// Its compartment's actor.
    pub compartment_actor: ActorRef<CompartmentMsg>,
}

impl Allocation {
    /// Drops the reservation or pending return made for `transaction`.
    pub fn release(&self, transaction: Uuid) {
        self.weapon.cast(WeaponMsg::Release { transaction }).ok();
    }
}

/// Messages to a locker.
pub enum LockerMsg {
    /// A message from the bus on one of this locker's event topics.
    Device {
        /// The parsed topic.
        topic: Topic,
        /// Its name, which the tag covers.
        topic_name: String,
        /// The raw payload.
        payload: Vec<u8>,
    },
    /// Choose and reserve a weapon of a class for `holder`.
    Allocate {
        /// Class asked for.
        weapon_class: WeaponClass,
        /// Who asks.
        holder: EmployeeId,
        /// The sign-out.
        transaction: Uuid,
        /// The weapon, or why none.
        reply: RpcReplyPort<Result<Allocation, Reason>>,
    },
    /// Find the weapon of this locker that `holder` holds, for a return.
    FindHeld {
        /// Who asks.
        holder: EmployeeId,
        /// The return.
        transaction: Uuid,
        /// The weapon, or why none.
        reply: RpcReplyPort<Result<Allocation, Reason>>,
    },
    /// Something changed; republish the locker's state.
    Changed,
    /// A compartment is held locked (missing or wrong weapon), or released.
    Held {
        /// The compartment.
        compartment: CompartmentNo,
        /// Held or released.
        held: bool,
    },
    /// Is this badge locked out here? Answers when the lockout ends.
    LockedUntil {
        /// The badge.
        badge: BadgeUid,
        /// The end of its lockout, if locked out now.
        reply: RpcReplyPort<Option<jiff::Timestamp>>,
    },
    /// A wrong PIN was typed for this badge at `reader`.
    PinFailed {
        /// The badge.
        badge: BadgeUid,
        /// Where.
        reader: ReaderId,
        /// Whether it locked the badge out.
        reply: RpcReplyPort<FailureOutcome>,
    },
    /// A correct PIN was typed for this badge.
    PinAccepted {
        /// The badge.
        badge: BadgeUid,
    },
    /// Time to check whether the controller is still heard from.
    LivenessCheck,
    /// Make a compartment actor fail on purpose (fault drills and their
    /// tests); reachable only in-process, never from the bus.
    FaultDrill {
        /// The compartment.
        compartment: CompartmentNo,
        /// How it fails.
        fault: DrillFault,
    },
    /// Make a reader actor fail on purpose (fault drills and their tests);
    /// reachable only in-process, never from the bus. The drill waits in
    /// the reader's mailbox behind the scans routed to it before.
    ReaderFaultDrill {
        /// The reader.
        reader: ReaderId,
        /// How it fails.
        fault: DrillFault,
    },
    /// A supervisor or armorer acknowledges the locker's alarms (and, as
    /// the technician's clear, brings isolated children back).
    Acknowledge {
        /// Done.
        reply: RpcReplyPort<()>,
    },
    /// A supervisor clears every lockout; answers how many were active.
    ClearLockouts {
        /// How many badges were locked out.
        reply: RpcReplyPort<usize>,
    },
    /// A first person's sign-out waits for a second person.
    AwaitSecondPerson(Box<PendingDual>),
    /// A second person takes the oldest waiting sign-out to authorize it;
    /// it stays waiting if this person may not authorize it.
    TakeWaiting {
        /// The second person.
        second: EmployeeId,
        /// Their role.
        role: crate::domain::Role,
        /// The waiting sign-out, or why it may not be taken.
        reply: RpcReplyPort<Result<PendingDual, Reason>>,
    },
    /// The weapon with this asset tag, if its home is this locker.
    WeaponByTag {
        /// The weapon.
        asset_tag: AssetTag,
        /// Its actor, class and compartment.
        reply: RpcReplyPort<Option<(ActorRef<WeaponMsg>, WeaponClass, CompartmentNo)>>,
    },
    /// An armorer opens a compartment for service.
    ForService {
        /// The compartment.
        compartment: CompartmentNo,
        /// The opening.
        transaction: Uuid,
        /// The weapon and compartment, or why not.
        reply: RpcReplyPort<Result<Allocation, Reason>>,
    },
    /// The window of a waiting sign-out has passed.
    WaitingExpired {
        /// Its id.
        id: Uuid,
    },
}

/// A locker's live state.
pub struct LockerState {
    site: SiteId,
    locker: Locker,
    key: LockerKey,
    services: Services,
    controller: Liveness,
    last_heard: Option<tokio::time::Instant>,
    reader_health: BTreeMap<ReaderId, liveness::ReaderHealth>,
    readers: HashMap<ReaderId, ActorRef<ReaderMsg>>,
    compartments: BTreeMap<CompartmentNo, ActorRef<CompartmentMsg>>,
    weapons: Vec<(WeaponClass, ActorRef<WeaponMsg>, AssetTag)>,
    homes: HashMap<CompartmentNo, Home>,
    counters: CounterWindow,
    recent: RecentIds,
    undecided: undecided::Undecided,
    lockouts: Lockouts,
    waiting: DualQueue,
    held: HashSet<CompartmentNo>,
    tamper_alarm: bool,
    restarts: HashMap<ChildKey, VecDeque<tokio::time::Instant>>,
    isolated: HashSet<ChildKey>,
}

/// The weapon whose home a compartment is: tag, actor, class.
type Home = (AssetTag, ActorRef<WeaponMsg>, WeaponClass);

/// Which child of the locker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ChildKey {
    Reader(ReaderId),
    Compartment(CompartmentNo),
    Weapon(AssetTag),
}

impl ChildKey {
    fn kind(&self) -> &'static str {
        match self {
            ChildKey::Reader(_) => "reader",
            ChildKey::Compartment(_) => "compartment",
            ChildKey::Weapon(_) => "weapon",
        }
    }

    fn name(&self) -> String {
        match self {
            ChildKey::Reader(reader) => reader.to_string(),
            ChildKey::Compartment(number) => number.to_string(),
            ChildKey::Weapon(tag) => tag.to_string(),
        }
    }
}

impl Actor for LockerActor {
    type Msg = LockerMsg;
    type State = LockerState;
    type Arguments = LockerArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<LockerMsg>,
        args: LockerArguments,
    ) -> Result<LockerState, ActorProcessingErr> {
        let LockerArguments {
            locker,
            weapons,
            services,
        } = args;
        let site = locker.site.clone();
        let key = services.fleet_secret.locker_key(&locker.id);
        let cell = myself.get_cell();

        let mut weapon_refs = Vec::new();
        let mut homes: HashMap<CompartmentNo, Home> = HashMap::new();
        for weapon in weapons {
            let (number, tag, class) = (weapon.compartment, weapon.asset_tag.clone(), weapon.class);
            let arguments = WeaponArguments {
                weapon,
                services: services.clone(),
            };
            let (actor, _) =
                Actor::spawn_linked(None, WeaponActor, arguments, cell.clone()).await?;
            homes.insert(number, (tag.clone(), actor.clone(), class));
            weapon_refs.push((class, actor, tag));
        }

        let reader_health = liveness::readers_unknown(locker.reader_ids().map(|(id, _)| id));
        let mut state = LockerState {
            site,
            locker,
            key,
            services,
            controller: Liveness::Unknown,
            last_heard: None,
            reader_health,
            readers: HashMap::new(),
            compartments: BTreeMap::new(),
            weapons: weapon_refs,
            homes,
            counters: CounterWindow::default(),
            recent: RecentIds::default(),
            undecided: undecided::Undecided::default(),
            lockouts: Lockouts::default(),
            waiting: DualQueue::default(),
            held: HashSet::new(),
            tamper_alarm: false,
            restarts: HashMap::new(),
            isolated: HashSet::new(),
        };
        for number in 1..=state.locker.compartments.len() as CompartmentNo {
            state
                .respawn(&myself, &ChildKey::Compartment(number))
                .await?;
        }
        let readers: Vec<ReaderId> = state.locker.reader_ids().map(|(id, _)| id).collect();
        for reader in readers {
            state.respawn(&myself, &ChildKey::Reader(reader)).await?;
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<LockerMsg>,
        state: &mut LockerState,
    ) -> Result<(), ActorProcessingErr> {
        state.count_devices();
        let every = state.services.timing.heartbeat_timeout / 3;
        myself.send_interval(every, || LockerMsg::LivenessCheck);
        state.publish().await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<LockerMsg>,
        state: &mut LockerState,
    ) -> Result<(), ActorProcessingErr> {
        state.forget_devices();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<LockerMsg>,
        message: LockerMsg,
        state: &mut LockerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            LockerMsg::Device {
                topic,
                topic_name,
                payload,
            } => state.on_device(topic, &topic_name, &payload).await,
            LockerMsg::Allocate {
                weapon_class,
                holder,
                transaction,
                reply,
            } => {
                let outcome = state.allocate(weapon_class, holder, transaction).await;
                let _ = reply.send(outcome);
                state.publish().await;
            }
            LockerMsg::FindHeld {
                holder,
                transaction,
                reply,
            } => {
                let outcome = state.find_held(holder, transaction).await;
                let _ = reply.send(outcome);
            }
            LockerMsg::Changed => state.publish().await,
            LockerMsg::Held { compartment, held } => {
                if held {
                    state.held.insert(compartment);
                } else {
                    state.held.remove(&compartment);
                }
            }
            LockerMsg::LockedUntil { badge, reply } => {
                let now = state.services.clock.now();
                let _ = reply.send(state.lockouts.locked_until(&badge, now));
            }
            LockerMsg::PinFailed {
                badge,
                reader,
                reply,
            } => {
                let outcome = state.pin_failed(&badge, reader).await;
                let _ = reply.send(outcome);
            }
            LockerMsg::PinAccepted { badge } => state.lockouts.succeeded(&badge),
            LockerMsg::LivenessCheck => state.check_liveness().await,
            LockerMsg::FaultDrill { compartment, fault } => {
                if let Some(actor) = state.compartments.get(&compartment) {
                    actor.cast(CompartmentMsg::FaultDrill(fault)).ok();
                }
            }
            LockerMsg::ReaderFaultDrill { reader, fault } => {
                if let Some(actor) = state.readers.get(&reader) {
                    actor.cast(ReaderMsg::FaultDrill(fault)).ok();
                }
            }
            LockerMsg::Acknowledge { reply } => {
                state.tamper_alarm = false;
                state.reinstate(&myself).await;
                for compartment in state.compartments.values() {
                    compartment.cast(CompartmentMsg::Acknowledge).ok();
                }
                state.publish().await;
                let _ = reply.send(());
            }
            LockerMsg::ClearLockouts { reply } => {
                let now = state.services.clock.now();
                let _ = reply.send(state.lockouts.clear(now));
            }
            LockerMsg::AwaitSecondPerson(pending) => {
                let id = pending.id;
                let window = pending.rule.window();
                state.waiting.push(*pending);
                myself.send_after(window, move || LockerMsg::WaitingExpired { id });
            }
            LockerMsg::TakeWaiting {
                second,
                role,
                reply,
            } => {
                let _ = reply.send(state.waiting.take_for(&second, role));
            }
            LockerMsg::WeaponByTag { asset_tag, reply } => {
                let found = state.views().await.into_iter().find_map(|(actor, view)| {
                    (view.asset_tag == asset_tag).then_some((actor, view.class, view.compartment))
                });
                let _ = reply.send(found);
            }
            LockerMsg::ForService {
                compartment,
                transaction,
                reply,
            } => {
                let _ = reply.send(state.for_service(compartment, transaction).await);
            }
            LockerMsg::WaitingExpired { id } => {
                if let Some(expired) = state.waiting.expire(id) {
                    state.waiting_expired(expired).await;
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<LockerMsg>,
        event: SupervisionEvent,
        state: &mut LockerState,
    ) -> Result<(), ActorProcessingErr> {
        // A failed child is restarted within budget, else isolated; its
        // siblings go on either way. A failed reader's undecided scans and
        // panel events are refused first.
        if let SupervisionEvent::ActorFailed(child, error) = event {
            tracing::error!(
                locker = %state.locker.id,
                child = %child.get_id(),
                %error,
                "child actor failed"
            );
            state.child_failed(&myself, &child).await;
        }
        Ok(())
    }
}

impl LockerState {
    async fn pin_failed(&mut self, badge: &BadgeUid, reader: ReaderId) -> FailureOutcome {
        let policy = &self.services.policy;
        let now = self.services.clock.now();
        let outcome = self.lockouts.failed(
            badge,
            now,
            policy.lockout_attempts,
            policy.lockout_window(),
            policy.lockout_duration(),
        );
        let FailureOutcome::LockedOut { until } = outcome else {
            return outcome;
        };

        let mut happening = Happening::at_locker(&self.site, &self.locker.id, now);
        happening.reader = Some(reader);
        let personnel = self.services.personnel.snapshot();
        happening.employee_id = personnel.by_badge(badge).map(|p| p.employee_id.clone());
        let mut entry =
            happening.audit_entry(AuditAction::Lockout, Decision::Recorded, "badge_locked_out");
        entry.badge = Some(badge.clone());
        if let Err(error) = self.services.store.commit(entry, None).await {
            tracing::error!(locker = %self.locker.id, %error, "lockout not recorded");
        }
        let message = format!(
            "badge {} locked out of {} until {until} after {} wrong PINs",
            badge.fingerprint(),
            self.locker.id,
            policy.lockout_attempts
        );
        let alert = Alert {
            kind: "badge_locked_out",
            severity: Severity::Warning,
            badge: Some(badge),
            message,
        };
        happening.alert(&self.services, alert);
        outcome
    }

    async fn waiting_expired(&self, expired: PendingDual) {
        let now = self.services.clock.now();
        let mut happening = Happening::at_locker(&self.site, &self.locker.id, now);
        happening.reader = Some(expired.reader.clone());
        happening.employee_id = Some(expired.holder.clone());
        happening.weapon_class = Some(expired.class);
        let reason = "dual_authorization_expired";
        let mut entry =
            happening.audit_entry(AuditAction::DualAuthorization, Decision::Recorded, reason);
        entry.badge = Some(expired.badge.clone());
        if let Err(error) = self.services.store.commit(entry, None).await {
            tracing::error!(locker = %self.locker.id, %error, "expiry not recorded");
        }
        happening.announce(&self.services, "dual_authorization_expired", reason);
        tracing::info!(
            locker = %self.locker.id,
            employee = %expired.holder,
            weapon_class = %expired.class,
            "no second person came; sign-out request lapsed"
        );
    }

    async fn publish(&self) {
        let mut available = BTreeMap::new();
        let mut signed_out = BTreeMap::new();
        for (_, view) in self.views().await {
            let tally = match view.condition {
                WeaponCondition::Available => &mut available,
                WeaponCondition::SignedOut | WeaponCondition::Reserved => &mut signed_out,
                WeaponCondition::Unavailable => continue,
            };
            *tally.entry(view.class).or_insert(0) += 1;
        }
        let payload = LockerStatePayload {
            v: SCHEMA_VERSION,
            site: self.site.clone(),
            locker: self.locker.id.clone(),
            controller: self.controller,
            readers: self.reader_words(),
            alarm: self.tamper_alarm.then(|| "tamper".to_owned()),
            compartments: self.compartments.len() as u16,
            available,
            signed_out,
            at: self.services.clock.now(),
        };
        let topic = Topic::LockerState {
            site: self.site.clone(),
            locker: self.locker.id.clone(),
        };
        self.services.bus.publish_state(topic.name(), &payload);
    }
}

/// The last [`RECENT_EVENTS`] event ids, oldest forgotten first.
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<Uuid>,
    members: HashSet<Uuid>,
}

impl RecentIds {
    fn contains(&self, id: &Uuid) -> bool {
        self.members.contains(id)
    }

    fn insert(&mut self, id: Uuid) {
        if self.order.len() == RECENT_EVENTS {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
        self.order.push_back(id);
        self.members.insert(id);
    }
}
