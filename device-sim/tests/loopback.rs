//! The simulator against a real broker and a fake service: the protocol
//! on the wire, scans and door cycles, and the commands a locker refuses.

#[allow(dead_code)]
#[path = "support/tiny_agency.rs"]
mod tiny_agency;

#[path = "support/broker.rs"]
mod broker;
#[path = "support/fake_service.rs"]
mod fake_service;

use std::time::Duration;

use armory_actors::domain::{BadgeUid, LockerId, ReaderId, SiteId, WeaponClass};
use armory_actors::protocol::{
    AccessRequest, Command, DeviceEvent, FleetSecret, Topic, UnlockPurpose,
};
use armory_device_sim::{Answer, SimConfig, Simulator};
use fake_service::{FakeService, Sealer};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

const LOCKER: &str = "TST-L1";

fn site() -> SiteId {
    SiteId::from("TST")
}

fn locker() -> LockerId {
    LockerId::from(LOCKER)
}

fn reader_topic(reader: &str) -> Topic {
    Topic::ReaderCommand {
        site: site(),
        locker: locker(),
        reader: ReaderId::from(reader),
    }
}

fn compartment_topic(compartment: u16) -> Topic {
    Topic::CompartmentCommand {
        site: site(),
        locker: locker(),
        compartment,
    }
}

fn config(broker: std::net::SocketAddr, secret: FleetSecret) -> SimConfig {
    let mut config = SimConfig::new(broker, secret, tiny_agency::tiny_agency());
    config.handling_delay = (Duration::ZERO, Duration::ZERO);
    config.heartbeat_every = Duration::from_millis(50);
    config
}

fn badge(text: &str) -> BadgeUid {
    BadgeUid::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn unlock(purpose: UnlockPurpose) -> Command {
    Command::Unlock {
        transaction: Uuid::new_v4(),
        purpose,
    }
}

fn outcome(scan: Uuid, granted: bool, reason: &str, compartment: Option<u16>) -> Command {
    Command::ShowOutcome {
        scan,
        granted,
        reason: reason.to_owned(),
        compartment,
    }
}

/// Starts the broker, the fake service and the simulator, and takes the
/// locker's announcement.
async fn start(secret: &FleetSecret) -> (Simulator, FakeService) {
    let broker = broker::start_broker().await;
    let mut service = FakeService::start(broker, secret.locker_key(&locker())).await;
    let sim = Simulator::start(config(broker, secret.clone()))
        .await
        .unwrap_or_else(|error| panic!("the simulator starts: {error}"));

    let online = service.next_not_heartbeat().await;
    assert_eq!(online.event.sender, LOCKER);
    assert_eq!(
        online.event.body,
        DeviceEvent::ControllerOnline {
            firmware: format!("armory-device-sim/{}", env!("CARGO_PKG_VERSION")),
            readers: vec![ReaderId::from("R1"), ReaderId::from("R2")],
            compartments: 4,
        }
    );
    (sim, service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_scan_opens_and_closes_its_door() {
    let secret = FleetSecret::generate();
    let key = secret.locker_key(&locker());
    let (sim, mut service) = start(&secret).await;

    // Sign-out at the keypad reader: the outcome comes before the unlock.
    let scanner = sim.clone();
    let scan = tokio::spawn(async move {
        let request = AccessRequest::SignOut {
            weapon_class: WeaponClass::Cew,
        };
        let (locker, reader) = (locker(), ReaderId::from("R1"));
        let badge = badge("a1b2c3d4");
        scanner
            .scan(&locker, &reader, &badge, Some("1234"), request)
            .await
    });
    let received = service.next_not_heartbeat().await;
    let DeviceEvent::Scan {
        badge_uid,
        pin_sealed: Some(pin_sealed),
        fingerprint_match: None,
        request: AccessRequest::SignOut { .. },
    } = &received.event.body
    else {
        panic!("expected a keypad scan, got {:?}", received.event.body);
    };
    assert_eq!(badge_uid, "A1B2C3D4");
    assert_eq!(
        key.open_pin(pin_sealed, &received.event.id).as_deref(),
        Ok("1234")
    );
    let scan_id = received.event.id;

    let show = service.seal(
        &reader_topic("R1"),
        outcome(scan_id, true, "granted", Some(1)),
    );
    service.send(&reader_topic("R1"), show, false).await;
    let open = service.seal(&compartment_topic(1), unlock(UnlockPurpose::SignOut));
    service.send(&compartment_topic(1), open, false).await;

    let opened = service.next_not_heartbeat().await;
    assert_eq!(opened.event.body, DeviceEvent::DoorOpened);
    assert!(matches!(
        opened.topic,
        Topic::CompartmentEvent { compartment: 1, .. }
    ));
    let closed = service.next_not_heartbeat().await;
    assert_eq!(
        closed.event.body,
        DeviceEvent::DoorClosed {
            weapon_present: false
        }
    );

    let result = scan
        .await
        .unwrap_or_else(|error| panic!("scan task: {error}"));
    let result = result.unwrap_or_else(|error| panic!("scan: {error}"));
    assert_eq!(result.scan, scan_id);
    assert_eq!(
        result.answer,
        Answer::Granted {
            compartment: Some(1)
        }
    );
    let door = result.door.unwrap_or_else(|| panic!("the door cycled"));
    assert!(!door.weapon_present);
    assert!(result
        .outcome_latency
        .is_some_and(|latency| latency <= door.latency));

    // Return at the fingerprint reader: the unlock comes before the outcome.
    let scanner = sim.clone();
    let scan = tokio::spawn(async move {
        let (locker, reader) = (locker(), ReaderId::from("R2"));
        let badge = badge("A1B2C3D4");
        scanner
            .scan(
                &locker,
                &reader,
                &badge,
                Some("1234"),
                AccessRequest::Return,
            )
            .await
    });
    let received = service.next_not_heartbeat().await;
    assert!(matches!(
        received.event.body,
        DeviceEvent::Scan {
            pin_sealed: None,
            fingerprint_match: Some(true),
            request: AccessRequest::Return,
            ..
        }
    ));
    let open = service.seal(&compartment_topic(1), unlock(UnlockPurpose::Return));
    service.send(&compartment_topic(1), open, false).await;
    let show = service.seal(
        &reader_topic("R2"),
        outcome(received.event.id, true, "granted", Some(1)),
    );
    service.send(&reader_topic("R2"), show, false).await;

    let opened = service.next_not_heartbeat().await;
    assert_eq!(opened.event.body, DeviceEvent::DoorOpened);
    let closed = service.next_not_heartbeat().await;
    assert_eq!(
        closed.event.body,
        DeviceEvent::DoorClosed {
            weapon_present: true
        }
    );

    let result = scan
        .await
        .unwrap_or_else(|error| panic!("scan task: {error}"));
    let result = result.unwrap_or_else(|error| panic!("scan: {error}"));
    assert_eq!(result.door.map(|door| door.weapon_present), Some(true));

    // A denial opens nothing and says why.
    let scanner = sim.clone();
    let scan = tokio::spawn(async move {
        let (locker, reader) = (locker(), ReaderId::from("R1"));
        let request = AccessRequest::SignOut {
            weapon_class: WeaponClass::Cew,
        };
        scanner
            .scan(&locker, &reader, &badge("A1B2C3D4"), Some("9999"), request)
            .await
    });
    let received = service.next_not_heartbeat().await;
    let show = service.seal(
        &reader_topic("R1"),
        outcome(received.event.id, false, "wrong_pin", None),
    );
    service.send(&reader_topic("R1"), show, false).await;
    let result = scan
        .await
        .unwrap_or_else(|error| panic!("scan task: {error}"));
    let result = result.unwrap_or_else(|error| panic!("scan: {error}"));
    assert_eq!(
        result.answer,
        Answer::Denied {
            reason: "wrong_pin".to_owned()
        }
    );
    assert_eq!(result.door, None);

    // The controller keeps beating, and beats for each of its readers;
    // every event so far opened in order.
    let beat = service.next().await;
    assert_eq!(beat.event.body, DeviceEvent::Heartbeat);
    assert!(matches!(beat.topic, Topic::ControllerEvent { .. }));
    for reader in ["R1", "R2"] {
        let beat = service.next().await;
        assert_eq!(beat.event.body, DeviceEvent::Heartbeat);
        let expected = Topic::ReaderEvent {
            site: site(),
            locker: locker(),
            reader: ReaderId::from(reader),
        };
        assert_eq!(beat.topic, expected);
    }

    let stats = sim.stats().await;
    assert_eq!(stats.commands_accepted, 5);
    assert_eq!(stats.refused_total(), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_replayed_and_retained_commands_open_nothing() {
    let secret = FleetSecret::generate();
    let broker = broker::start_broker().await;
    let mut service = FakeService::start(broker, secret.locker_key(&locker())).await;

    // A valid unlock left retained on the broker before the locker is up.
    let retained = service.seal(&compartment_topic(2), unlock(UnlockPurpose::SignOut));
    service.send(&compartment_topic(2), retained, true).await;

    let sim = Simulator::start(config(broker, secret.clone()))
        .await
        .unwrap_or_else(|error| panic!("the simulator starts: {error}"));
    let online = service.next_not_heartbeat().await;
    assert!(matches!(
        online.event.body,
        DeviceEvent::ControllerOnline { .. }
    ));

    // Forged: sealed under another fleet's key.
    let mut forger = Sealer::new(FleetSecret::generate().locker_key(&locker()));
    let forged = forger.seal(&compartment_topic(2), unlock(UnlockPurpose::SignOut));
    service.send(&compartment_topic(2), forged, false).await;

    // Stale: made a minute ago, expired after five seconds.
    let minute_ago = Timestamp::now()
        .checked_sub(SignedDuration::from_secs(60))
        .unwrap_or_else(|error| panic!("a minute ago exists: {error}"));
    let stale = service.seal_as(
        &compartment_topic(2),
        unlock(UnlockPurpose::SignOut),
        "armory",
        minute_ago,
    );
    service.send(&compartment_topic(2), stale, false).await;

    // Right key, wrong sender.
    let impostor = service.seal_as(
        &compartment_topic(2),
        unlock(UnlockPurpose::SignOut),
        "mallory",
        Timestamp::now(),
    );
    service.send(&compartment_topic(2), impostor, false).await;

    // An unlock sent to a reader.
    let misplaced = service.seal(&reader_topic("R1"), unlock(UnlockPurpose::SignOut));
    service.send(&reader_topic("R1"), misplaced, false).await;

    // A valid unlock opens once; the same bytes again are a replay.
    let valid = service.seal(&compartment_topic(2), unlock(UnlockPurpose::SignOut));
    service
        .send(&compartment_topic(2), valid.clone(), false)
        .await;
    service.send(&compartment_topic(2), valid, false).await;

    // A last valid unlock: once it shows, every command above was handled.
    let last = service.seal(&compartment_topic(4), unlock(UnlockPurpose::Return));
    service.send(&compartment_topic(4), last, false).await;

    let mut opened = Vec::new();
    loop {
        let received = service.next_not_heartbeat().await;
        let Topic::CompartmentEvent { compartment, .. } = received.topic else {
            panic!("only doors move here, got {:?}", received.event.body);
        };
        if received.event.body == DeviceEvent::DoorOpened {
            opened.push(compartment);
        }
        if compartment == 4 && received.event.body != DeviceEvent::DoorOpened {
            assert_eq!(
                received.event.body,
                DeviceEvent::DoorClosed {
                    weapon_present: true
                }
            );
            break;
        }
    }
    assert_eq!(
        opened,
        [2, 4],
        "compartment 2 opened once, for the valid unlock"
    );

    let stats = sim.stats().await;
    let refused: Vec<(&str, u64)> = stats
        .commands_refused
        .iter()
        .map(|(code, count)| (code.as_str(), *count))
        .collect();
    assert_eq!(
        refused,
        [
            ("bad_sender", 1),
            ("bad_tag", 1),
            ("replayed", 1),
            ("retained", 1),
            ("stale", 1),
            ("wrong_topic", 1),
        ]
    );
    assert_eq!(stats.commands_accepted, 2);
    sim.shutdown().await;
}
