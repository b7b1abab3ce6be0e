//! A stand-in for the armory service that decides by itself: it answers
//! every scan of every locker by the access rules, reserves a weapon per
//! grant, and sends the outcome and the unlock, like the real service,
//! only with all state in memory and without an audit trail.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use armory_actors::domain::{CompartmentNo, EmployeeId, LockerId, ServiceStatus, WeaponClass};
use armory_actors::import::AgencyData;
use armory_actors::policy::AccessPolicy;
use armory_actors::protocol::topic::DEVICE_EVENTS_FILTER;
use armory_actors::protocol::{
    AccessRequest, Command, CounterWindow, DeviceEvent, FleetSecret, SealedEnvelope, Topic,
    UnlockPurpose,
};
use armory_actors::rules::{may_act, may_draw, Draw, Reason};
use jiff::{SignedDuration, Timestamp};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use uuid::Uuid;

/// What the auto service holds in memory.
struct Books {
    agency: AgencyData,
    pins: BTreeMap<EmployeeId, String>,
    now: Timestamp,
    /// Compartments with a weapon in, by locker and class.
    stocked: BTreeMap<(LockerId, WeaponClass), BTreeSet<CompartmentNo>>,
    /// Who holds a weapon from which compartment.
    holders: BTreeMap<EmployeeId, (LockerId, WeaponClass, CompartmentNo)>,
    /// Returns granted whose door has not closed yet.
    returning: BTreeMap<(LockerId, CompartmentNo), WeaponClass>,
    counter: u64,
    window: CounterWindow,
}

/// Connects and answers scans until the test ends; returns once subscribed.
pub async fn start(broker: SocketAddr, secret: FleetSecret, agency: AgencyData, now: Timestamp) {
    let mut stocked: BTreeMap<(LockerId, WeaponClass), BTreeSet<CompartmentNo>> = BTreeMap::new();
    for weapon in agency.armory.weapons.values() {
        if weapon.status == ServiceStatus::InService && weapon.holder.is_none() {
            let key = (weapon.locker.clone(), weapon.class);
            stocked.entry(key).or_default().insert(weapon.compartment);
        }
    }
    let mut books = Books {
        pins: agency.pins.iter().cloned().collect(),
        agency,
        now,
        stocked,
        holders: BTreeMap::new(),
        returning: BTreeMap::new(),
        counter: 0,
        window: CounterWindow::default(),
    };

    let id = format!("armory-auto-service-{}", Uuid::new_v4().simple());
    let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (subscribed, ready) = oneshot::channel();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(DEVICE_EVENTS_FILTER, QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(subscribed) = subscribed.take() {
                        let _ = subscribed.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    for (topic, bytes) in books.answer(&secret, &publish.topic, &publish.payload) {
                        let sent = client.try_publish(topic, QoS::AtLeastOnce, false, bytes);
                        sent.unwrap_or_else(|error| {
                            panic!("the auto service cannot publish: {error}")
                        });
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::task::yield_now().await,
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(10), ready).await {
        Ok(Ok(())) => {}
        _ => panic!("the auto service did not subscribe"),
    }
}

impl Books {
    /// The commands that answer one event (none for all but scans).
    fn answer(
        &mut self,
        secret: &FleetSecret,
        name: &str,
        payload: &[u8],
    ) -> Vec<(String, Vec<u8>)> {
        let topic = Topic::parse(name).unwrap_or_else(|error| panic!("{name}: {error}"));
        let (Topic::ReaderEvent { locker, .. }
        | Topic::CompartmentEvent { locker, .. }
        | Topic::ControllerEvent { locker, .. }) = &topic
        else {
            panic!("{name} is not a device event");
        };
        let key = secret.locker_key(locker);
        let event = SealedEnvelope::<DeviceEvent>::open(&key, name, payload, Timestamp::now())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        self.window
            .accept(&event.sender, event.counter)
            .unwrap_or_else(|error| panic!("{name}: {error}"));

        // A returned weapon is issuable again once its door has closed on it.
        if let (
            Topic::CompartmentEvent {
                locker,
                compartment,
                ..
            },
            DeviceEvent::DoorClosed {
                weapon_present: true,
            },
        ) = (&topic, &event.body)
        {
            if let Some(class) = self.returning.remove(&(locker.clone(), *compartment)) {
                self.stocked
                    .entry((locker.clone(), class))
                    .or_default()
                    .insert(*compartment);
            }
        }

        let (
            Topic::ReaderEvent {
                site,
                locker,
                reader,
            },
            DeviceEvent::Scan {
                badge_uid,
                pin_sealed,
                fingerprint_match,
                request,
            },
        ) = (topic, event.body)
        else {
            return Vec::new();
        };

        let pin = pin_sealed.map(|sealed| key.open_pin(&sealed, &event.id));
        let decision = self.decide(&locker, &badge_uid, pin, fingerprint_match, request);
        let (reason, unlock) = match decision {
            Ok((compartment, purpose)) => (Reason::Granted, Some((compartment, purpose))),
            Err(reason) => (reason, None),
        };

        let mut commands = Vec::new();
        let show = Command::ShowOutcome {
            scan: event.id,
            granted: unlock.is_some(),
            reason: reason.code().to_owned(),
            compartment: unlock.map(|(compartment, _)| compartment),
        };
        let reader_topic = Topic::ReaderCommand {
            site: site.clone(),
            locker: locker.clone(),
            reader,
        };
        commands.push(self.seal(secret, &reader_topic, show));
        if let Some((compartment, purpose)) = unlock {
            let topic = Topic::CompartmentCommand {
                site,
                locker,
                compartment,
            };
            let open = Command::Unlock {
                transaction: Uuid::new_v4(),
                purpose,
            };
            commands.push(self.seal(secret, &topic, open));
        }
        commands
    }

    fn decide(
        &mut self,
        locker: &LockerId,
        badge_uid: &str,
        pin: Option<Result<String, armory_actors::protocol::keys::KeyError>>,
        fingerprint_match: Option<bool>,
        request: AccessRequest,
    ) -> Result<(CompartmentNo, UnlockPurpose), Reason> {
        let badge =
            armory_actors::domain::BadgeUid::parse(badge_uid).map_err(|_| Reason::BadRequest)?;
        let person = self
            .agency
            .personnel
            .by_badge(&badge)
            .ok_or(Reason::UnknownBadge)?;
        match (pin, fingerprint_match) {
            (Some(Ok(pin)), _) if self.pins.get(&person.employee_id) == Some(&pin) => {}
            (Some(_), _) => return Err(Reason::WrongPin),
            (None, Some(true)) => {}
            (None, Some(false)) => return Err(Reason::BiometricMismatch),
            (None, None) => return Err(Reason::MissingFactor),
        }

        let employee = person.employee_id.clone();
        match request {
            AccessRequest::SignOut { weapon_class } => {
                let certifications = self.agency.personnel.certifications_of(&employee);
                let rule = AccessPolicy::default().class(weapon_class);
                let site = &self.agency.armory.lockers[locker].site;
                let draw = Draw {
                    class: weapon_class,
                    rule: &rule,
                    site,
                    now: self.now,
                };
                may_draw(person, certifications, draw)?;
                let stock = self.stocked.get_mut(&(locker.clone(), weapon_class));
                let compartment = stock
                    .and_then(|stock| stock.pop_first())
                    .ok_or(Reason::NoWeaponAvailable)?;
                self.holders
                    .insert(employee, (locker.clone(), weapon_class, compartment));
                Ok((compartment, UnlockPurpose::SignOut))
            }
            AccessRequest::Return => {
                may_act(person)?;
                match self.holders.get(&employee) {
                    Some((home, ..)) if home == locker => {}
                    _ => return Err(Reason::NothingToReturn),
                }
                let (home, class, compartment) = self
                    .holders
                    .remove(&employee)
                    .unwrap_or_else(|| panic!("just checked"));
                self.returning.insert((home, compartment), class);
                Ok((compartment, UnlockPurpose::Return))
            }
            // A shift never asks for these.
            AccessRequest::Authorize
            | AccessRequest::ClearLockouts
            | AccessRequest::Acknowledge
            | AccessRequest::Service { .. } => Err(Reason::BadRequest),
        }
    }

    fn seal(&mut self, secret: &FleetSecret, topic: &Topic, body: Command) -> (String, Vec<u8>) {
        let (Topic::ReaderCommand { locker, .. } | Topic::CompartmentCommand { locker, .. }) =
            topic
        else {
            panic!("commands go to readers and compartments");
        };
        self.counter += 1;
        let name = topic.name();
        let key = secret.locker_key(locker);
        let at = Timestamp::now();
        let sealed = SealedEnvelope::seal(
            &key,
            &name,
            "armory",
            self.counter,
            at,
            SignedDuration::from_secs(5),
            body,
        );
        (name, sealed.to_bytes())
    }
}
