//! A whole locker on a bench: the real actor tree under tokio's paused
//! clock, a store that keeps its audit rows in memory (and answers open
//! grants from them, as the SQLite store does), a bus whose messages the
//! test reads, and sealed device events sent straight to the router.

#![allow(dead_code)]

#[path = "outstanding.rs"]
mod outstanding;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use armory_actors::clock::Clock;
use armory_actors::directory::Directory;
use armory_actors::domain::{
    Armory, BadgeUid, Certification, CompartmentSize, EmployeeId, Locker, LockerId, Person,
    PersonStatus, Personnel, ReaderKind, Role, ServiceStatus, Site, SiteId, Weapon, WeaponClass,
};
use armory_actors::maintenance::MaintenancePolicy;
use armory_actors::ports::{
    AuditAction, AuditEntry, Bus, Decision, OpenGrant, Outbound, Store, StoreRequest,
};
use armory_actors::protocol::seal::Header;
use armory_actors::protocol::{
    AccessRequest, DeviceEvent, FleetSecret, SealedEnvelope, Topic, UnlockPurpose,
};
use armory_actors::services::{CommandCounter, PersonnelHandle, Services, Timing};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use uuid::Uuid;

pub const OFFICER_BADGE: &str = "0A0A0A0A";
pub const SUPERVISOR_BADGE: &str = "0B0B0B0B";
pub const ARMORER_BADGE: &str = "0D0D0D0D";

/// One locker, SLM-L1: two fingerprint readers, four compartments, three
/// TASERs in compartments 1 to 3 (least used first).
pub struct Bench {
    pub directory: Directory,
    pub audit: Arc<Mutex<Vec<AuditEntry>>>,
    /// How the fake store answers commits; tests change it mid-run.
    pub store_mode: Arc<Mutex<StoreMode>>,
    /// Releases commits held by [`StoreMode::Hold`].
    pub store_release: Arc<tokio::sync::Notify>,
    pub seen: Vec<Outbound>,
    bus: mpsc::Receiver<Outbound>,
    secret: FleetSecret,
    clock: Clock,
    counter: u64,
}

impl Bench {
    pub async fn start() -> Bench {
        Self::start_with(MaintenancePolicy::default()).await
    }

    /// A bench whose weapons follow `maintenance` instead of the defaults.
    pub async fn start_with(maintenance: MaintenancePolicy) -> Bench {
        Self::start_laid_out(maintenance, Layout::default()).await
    }

    /// A bench with the lockers and start-up of `layout`.
    pub async fn start_laid_out(maintenance: MaintenancePolicy, layout: Layout) -> Bench {
        let start: Timestamp = "2026-12-03T14:00:00Z".parse().expect("valid instant");
        let clock = Clock::following_tokio(start);
        let audit = Arc::new(Mutex::new(Vec::<AuditEntry>::new()));
        let (store, requests) = Store::channel(256);
        let store_mode = Arc::new(Mutex::new(StoreMode::Normal));
        let store_release = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(fake_store(
            requests,
            audit.clone(),
            store_mode.clone(),
            store_release.clone(),
        ));
        let (bus, outbound) = Bus::channel(16 * 1024);
        let secret = FleetSecret::generate();
        let services = Services {
            bus,
            store,
            clock: clock.clone(),
            personnel: PersonnelHandle::new(personnel()),
            fleet_secret: secret.clone(),
            timing: Timing::default(),
            commands: CommandCounter::starting_at(0),
            policy: Arc::default(),
            maintenance: Arc::new(maintenance),
        };
        let (_root, directory) = armory_actors::tree::start(armory(layout), services)
            .await
            .expect("the tree starts");
        let mut bench = Bench {
            directory,
            audit,
            store_mode,
            store_release,
            seen: Vec::new(),
            bus: outbound,
            secret,
            clock,
            counter: 1,
        };
        if layout.quiet {
            bench.settle().await;
            return bench;
        }
        bench
            .send(
                controller(),
                DeviceEvent::ControllerOnline {
                    firmware: "1.0".into(),
                    readers: vec!["R1".into(), "R2".into()],
                    compartments: 4,
                },
            )
            .await;
        if layout.second_locker {
            let online = DeviceEvent::ControllerOnline {
                firmware: "1.0".into(),
                readers: vec!["R1".into()],
                compartments: 2,
            };
            bench.send(controller_at(SECOND_LOCKER), online).await;
        }
        bench
    }

    /// Sends a sealed event as SLM-L1's controller and lets it be handled.
    pub async fn send(&mut self, topic: Topic, body: DeviceEvent) {
        self.send_sealed(topic, body).await;
    }

    /// One heartbeat of SLM-L1's controller and of each of its readers, as
    /// the hardware sends every 10 s.
    pub async fn beat(&mut self) {
        self.send(controller(), DeviceEvent::Heartbeat).await;
        for reader in ["R1", "R2"] {
            self.send(reader_topic(reader), DeviceEvent::Heartbeat)
                .await;
        }
    }

    /// Sends a sealed event as [`Bench::send`] does, and returns its bytes
    /// so that a test can deliver them again. The locker the topic names
    /// seals it (SLM-L1, or the second locker).
    pub async fn send_sealed(&mut self, topic: Topic, body: DeviceEvent) -> Vec<u8> {
        let (_, bytes) = self.seal_and_route(topic, body);
        self.settle().await;
        bytes
    }

    /// Routes a sealed event without letting any actor run, so that
    /// several wait in mailboxes together; answers its event id.
    pub fn queue(&mut self, topic: Topic, body: DeviceEvent) -> Uuid {
        self.seal_and_route(topic, body).0
    }

    /// A scan's event (fingerprint readers: no PIN needed).
    pub fn scan_event(badge: &str, request: AccessRequest) -> DeviceEvent {
        DeviceEvent::Scan {
            badge_uid: badge.into(),
            pin_sealed: None,
            fingerprint_match: Some(true),
            request,
        }
    }

    /// Seals an event as the locker its topic names and routes it.
    fn seal_and_route(&mut self, topic: Topic, body: DeviceEvent) -> (Uuid, Vec<u8>) {
        let name = topic.name();
        let sender = name.split('/').nth(3).unwrap_or("SLM-L1").to_owned();
        let key = self.secret.locker_key(&LockerId::from(sender.as_str()));
        self.counter += 1;
        let id = Uuid::new_v4();
        let header = Header {
            id,
            sender: &sender,
            counter: self.counter,
            at: self.clock.now(),
            lifetime: SignedDuration::from_secs(30),
        };
        let bytes = SealedEnvelope::seal_with_id(&key, &name, header, body).to_bytes();
        self.directory.route(&name, bytes.clone()).expect("routed");
        (id, bytes)
    }

    /// Delivers an event's bytes again, as QoS 1 does after a lost
    /// acknowledgement, and lets it be handled.
    pub async fn redeliver(&mut self, topic: &Topic, bytes: Vec<u8>) {
        self.directory.route(&topic.name(), bytes).expect("routed");
        self.settle().await;
    }

    /// A scan at a reader (fingerprint readers: no PIN needed).
    pub async fn scan(
        &mut self,
        reader: &str,
        badge: &str,
        request: AccessRequest,
    ) -> serde_json::Value {
        self.scan_at("SLM-L1", reader, badge, request).await
    }

    /// A scan at a reader of `locker`.
    pub async fn scan_at(
        &mut self,
        locker: &str,
        reader: &str,
        badge: &str,
        request: AccessRequest,
    ) -> serde_json::Value {
        let before = self.outcomes_at(locker, reader).len();
        let body = Self::scan_event(badge, request);
        self.send(reader_topic_at(locker, reader), body).await;
        let outcomes = self.outcomes_at(locker, reader);
        assert_eq!(outcomes.len(), before + 1, "one outcome per scan");
        outcomes[before].clone()
    }

    /// The door cycle of a compartment, as the hardware reports it.
    pub async fn door_cycle(&mut self, compartment: u16, weapon_present: bool) {
        self.send(compartment_topic(compartment), DeviceEvent::DoorOpened)
            .await;
        self.send(
            compartment_topic(compartment),
            DeviceEvent::DoorClosed { weapon_present },
        )
        .await;
    }

    /// Lets every actor finish what it was doing (the paused clock moves
    /// one millisecond).
    pub async fn settle(&mut self) {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        while let Ok(message) = self.bus.try_recv() {
            self.seen.push(message);
        }
    }

    /// Lets time pass.
    pub async fn pass(&mut self, span: Duration) {
        tokio::time::sleep(span).await;
        self.settle().await;
    }

    /// Bodies of the sealed commands sent to a reader's display.
    pub fn outcomes(&self, reader: &str) -> Vec<serde_json::Value> {
        self.outcomes_at("SLM-L1", reader)
    }

    /// Bodies of the sealed commands sent to a display of `locker`.
    pub fn outcomes_at(&self, locker: &str, reader: &str) -> Vec<serde_json::Value> {
        let topic = format!("armory/v1/SLM/{locker}/command/reader/{reader}");
        self.json_on(|t| t == topic)
            .into_iter()
            .map(|v| v["body"].clone())
            .collect()
    }

    /// Unlock commands sent to any compartment.
    pub fn unlocks(&self) -> usize {
        self.json_on(|t| t.contains("/command/compartment/")).len()
    }

    /// Activity messages of SLM-L1, in order.
    pub fn activity(&self) -> Vec<serde_json::Value> {
        self.json_on(|t| t == "armory/v1/SLM/SLM-L1/activity")
    }

    /// Alert kinds raised, in order.
    pub fn alerts(&self) -> Vec<String> {
        self.json_on(|t| t.ends_with("/alert"))
            .into_iter()
            .map(|v| v["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The latest retained state on a topic suffix.
    pub fn state(&self, suffix: &str) -> serde_json::Value {
        self.json_on(|t| t.ends_with(suffix))
            .pop()
            .unwrap_or_default()
    }

    /// Audit reasons of an action.
    pub fn audited(&self, action: AuditAction) -> Vec<String> {
        let audit = self.audit.lock().expect("audit lock");
        audit
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.reason.clone())
            .collect()
    }

    /// Rows with this decision.
    pub fn decided(&self, decision: Decision) -> usize {
        let audit = self.audit.lock().expect("audit lock");
        audit.iter().filter(|e| e.decision == decision).count()
    }

    fn json_on(&self, topic: impl Fn(&str) -> bool) -> Vec<serde_json::Value> {
        self.seen
            .iter()
            .filter(|m| topic(&m.topic))
            .filter_map(|m| serde_json::from_slice(&m.payload).ok())
            .collect()
    }
}

pub fn controller() -> Topic {
    controller_at("SLM-L1")
}

pub fn controller_at(locker: &str) -> Topic {
    Topic::ControllerEvent {
        site: "SLM".into(),
        locker: locker.into(),
    }
}

pub fn reader_topic(reader: &str) -> Topic {
    reader_topic_at("SLM-L1", reader)
}

pub fn reader_topic_at(locker: &str, reader: &str) -> Topic {
    Topic::ReaderEvent {
        site: "SLM".into(),
        locker: locker.into(),
        reader: reader.into(),
    }
}

/// The second locker of [`Layout::second_locker`]: one fingerprint reader,
/// two compartments, one TASER (LL-02001) in compartment 1.
pub const SECOND_LOCKER: &str = "SLM-L2";

/// Which lockers the bench's armory has, and how they start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    /// Adds [`SECOND_LOCKER`] beside SLM-L1.
    pub second_locker: bool,
    /// No controller announces itself: every device stays as the service
    /// found it at start.
    pub quiet: bool,
}

pub fn compartment_topic(compartment: u16) -> Topic {
    Topic::CompartmentEvent {
        site: "SLM".into(),
        locker: "SLM-L1".into(),
        compartment,
    }
}

pub fn sign_out() -> AccessRequest {
    AccessRequest::SignOut {
        weapon_class: WeaponClass::Cew,
    }
}

/// How the fake store answers commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Commits at once.
    Normal,
    /// Fails every commit, as a broken disk would.
    Failing,
    /// Holds each commit until `store_release` is notified.
    Hold,
}

/// A store that keeps rows in memory and answers open grants from them.
async fn fake_store(
    mut requests: mpsc::Receiver<StoreRequest>,
    audit: Arc<Mutex<Vec<AuditEntry>>>,
    mode: Arc<Mutex<StoreMode>>,
    release: Arc<tokio::sync::Notify>,
) {
    let mut seq = 0;
    while let Some(request) = requests.recv().await {
        match request {
            StoreRequest::Commit { entry, reply, .. } => {
                let current = *mode.lock().expect("mode lock");
                if current == StoreMode::Failing {
                    let detail = "disk I/O error".to_owned();
                    let failed = armory_actors::ports::StoreError::Failed { detail };
                    let _ = reply.send(Err(failed));
                    continue;
                }
                if current == StoreMode::Hold {
                    release.notified().await;
                }
                let mut rows = audit.lock().expect("audit lock");
                let repeated = entry.event_id.is_some()
                    && rows.iter().any(|row| row.event_id == entry.event_id);
                if repeated {
                    let event_id = entry.event_id.unwrap_or_default();
                    let _ = reply.send(Err(armory_actors::ports::StoreError::Duplicate {
                        event_id,
                    }));
                    continue;
                }
                seq += 1;
                rows.push(*entry);
                let _ = reply.send(Ok(seq));
            }
            StoreRequest::OpenGrant { asset_tag, reply } => {
                let rows = audit.lock().expect("audit lock");
                let closing = [
                    AuditAction::SignedOut,
                    AuditAction::Returned,
                    AuditAction::UnlockExpired,
                    AuditAction::Anomaly,
                ];
                let open = rows
                    .iter()
                    .rev()
                    .filter(|r| r.asset_tag.as_ref() == Some(&asset_tag))
                    .filter(|r| r.decision == Decision::Granted)
                    .filter(|r| {
                        matches!(
                            r.action,
                            AuditAction::SignOutRequest | AuditAction::ReturnRequest
                        )
                    })
                    .find(|grant| {
                        !rows.iter().any(|r| {
                            r.transaction == grant.transaction && closing.contains(&r.action)
                        })
                    })
                    .map(|grant| OpenGrant {
                        transaction: grant.transaction.unwrap_or_default(),
                        purpose: if grant.action == AuditAction::ReturnRequest {
                            UnlockPurpose::Return
                        } else {
                            UnlockPurpose::SignOut
                        },
                        holder: grant.employee_id.clone().unwrap_or(EmployeeId::from("?")),
                        granted_at: grant.at,
                    });
                let _ = reply.send(Ok(open));
            }
            StoreRequest::OutstandingSignOut { asset_tag, reply } => {
                let rows = audit.lock().expect("audit lock");
                let _ = reply.send(Ok(outstanding::outstanding_sign_out(&rows, &asset_tag)));
            }
        }
    }
}

fn armory(layout: Layout) -> Armory {
    let site = Site {
        id: SiteId::from("SLM"),
        name: "Salem Headquarters".into(),
        timezone: "America/Los_Angeles".into(),
    };
    let locker = Locker {
        site: site.id.clone(),
        id: LockerId::from("SLM-L1"),
        model: "UT-Series".into(),
        compartments: vec![CompartmentSize::Small; 4],
        readers: vec![ReaderKind::BadgeFingerprint, ReaderKind::BadgeFingerprint],
    };
    let weapon = |n: u16| Weapon {
        asset_tag: format!("LL-0100{n}").as_str().into(),
        serial_number: format!("AX{n}"),
        make: "Axon".into(),
        model: "TASER 10".into(),
        class: WeaponClass::Cew,
        site: site.id.clone(),
        locker: locker.id.clone(),
        compartment: n,
        status: ServiceStatus::InService,
        sign_outs_since_service: u32::from(n),
        total_sign_outs: u32::from(n),
        deployments_since_service: 0,
        last_service_date: "2026-11-01".parse().expect("valid date"),
        holder: None,
    };
    let mut armory = Armory::default();
    for n in 1..=3 {
        let w = weapon(n);
        armory.weapons.insert(w.asset_tag.clone(), w);
    }
    if layout.second_locker {
        let second = Locker {
            id: LockerId::from(SECOND_LOCKER),
            compartments: vec![CompartmentSize::Small; 2],
            readers: vec![ReaderKind::BadgeFingerprint],
            ..locker.clone()
        };
        let w = Weapon {
            asset_tag: "LL-02001".into(),
            locker: second.id.clone(),
            compartment: 1,
            ..weapon(1)
        };
        armory.weapons.insert(w.asset_tag.clone(), w);
        armory.lockers.insert(second.id.clone(), second);
    }
    armory.lockers.insert(locker.id.clone(), locker);
    armory.sites.insert(site.id.clone(), site);
    armory
}

fn personnel() -> Personnel {
    let person = |id: &str, role, badge: &str| Person {
        employee_id: EmployeeId::from(id),
        last_name: "Doe".into(),
        first_name: "Sam".into(),
        rank: "Trooper".into(),
        role,
        home_site: SiteId::from("SLM"),
        status: PersonStatus::Active,
        badge: BadgeUid::parse(badge).expect("valid badge"),
        hire_date: "2015-01-01".parse().expect("valid date"),
    };
    let mut personnel = Personnel::default();
    for p in [
        person("E1", Role::Officer, OFFICER_BADGE),
        person("E2", Role::Supervisor, SUPERVISOR_BADGE),
        person("E3", Role::Officer, "0C0C0C0C"),
        person("E4", Role::Armorer, ARMORER_BADGE),
    ] {
        let cert = Certification {
            employee_id: p.employee_id.clone(),
            course_code: "LL-CEW".into(),
            class: WeaponClass::Cew,
            completed_on: "2026-01-01".parse().expect("valid date"),
            expires_at: "2027-01-01T00:00:00Z".parse().expect("valid instant"),
            instructor: EmployeeId::from("E9"),
        };
        personnel
            .certifications
            .insert(p.employee_id.clone(), vec![cert]);
        personnel.people.insert(p.employee_id.clone(), p);
    }
    let _: BTreeMap<(), ()> = BTreeMap::new();
    personnel
}
