//! End to end: who may talk to the armory, and what an attacker on the bus
//! can do. Each test starts from the running demo armory (the service, the
//! simulated lockers and an observer logged in as a dashboard user):
//!
//! - a client with no or wrong credentials, or under another's identity,
//!   gets no CONNACK;
//! - a forged unlock, a captured unlock replayed, and a retained unlock
//!   waiting on the broker when the service starts open nothing: the
//!   lockers refuse and count them;
//! - a forged scan from another client creates no sign-out and is counted
//!   as rejected.

#[path = "support/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use armory::broker::EmbeddedBroker;
use armory::serve::{broker_settings, load_fleet_secret, Service};
use armory_actors::domain::LockerId;
use armory_actors::protocol::seal::Header;
use armory_actors::protocol::{
    AccessRequest, Command, DeviceEvent, FleetSecret, SealedEnvelope, UnlockPurpose,
};
use armory_device_sim::{SimConfig, SimStats, Simulator};
use harness::{Observer, Seen, TestArmory};
use jiff::SignedDuration;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
use uuid::Uuid;

const UNLOCK_TOPIC: &str = "armory/v1/SLM/SLM-L1/command/compartment/1";

/// Whether a client with this id and login gets a CONNACK.
async fn logs_in(broker: SocketAddr, client_id: &str, login: Option<(&str, &str)>) -> bool {
    let mut options = MqttOptions::new(client_id, broker.ip().to_string(), broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    let first = tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
        .await
        .expect("the broker answers or hangs up within 10 s");
    matches!(first, Ok(Event::Incoming(Packet::ConnAck(_))))
}

/// Polls `probe` until it holds, for at most 10 s; the simulator's
/// counters have no change notification to wait on.
async fn eventually(what: &str, probe: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn refused(stats: &SimStats, code: &str) -> u64 {
    stats.commands_refused.get(code).copied().unwrap_or(0)
}

/// An unlock for compartment 1 of SLM-L1 under `key_of`'s key.
fn unlock_under(key_of: &FleetSecret, armory: &TestArmory, counter: u64) -> Vec<u8> {
    let key = key_of.locker_key(&LockerId::from("SLM-L1"));
    let body = Command::Unlock {
        transaction: Uuid::new_v4(),
        purpose: UnlockPurpose::SignOut,
    };
    let lifetime = SignedDuration::from_secs(5);
    let now = armory.clock.now();
    SealedEnvelope::seal(&key, UNLOCK_TOPIC, "armory", counter, now, lifetime, body).to_bytes()
}

/// Plays one granted sign-out at SLM-L1 and returns its unlock command as
/// the observer saw it.
async fn capture_an_unlock(armory: &TestArmory) -> Seen {
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let request = AccessRequest::SignOut {
        weapon_class: class,
    };
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L1"),
            &TestArmory::reader("R1"),
            &officer.badge,
            Some(&pin),
            request,
        )
        .await
        .expect("answered");
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.wait_activity("signed_out", 1).await;
    let unlocks = armory.unlock_commands();
    assert_eq!(unlocks.len(), 1);
    unlocks[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_credentials_is_refused() {
    let armory = TestArmory::start().await;
    let broker = armory.service.broker_address();
    let fleet = armory.service.fleet_secret().clone();
    let locker_password = fleet.locker_key(&LockerId::from("SLM-L1")).mqtt_password();
    let other_password = fleet.locker_key(&LockerId::from("SLM-L2")).mqtt_password();
    let dashboard = Some((harness::OBSERVER_USER, harness::OBSERVER_PASSWORD));

    assert!(!logs_in(broker, "anonymous", None).await, "anonymous");
    let wrong = Some((harness::OBSERVER_USER, "not-the-password"));
    assert!(!logs_in(broker, "guesser", wrong).await, "wrong password");
    assert!(
        !logs_in(broker, "locker-SLM-L1", dashboard).await,
        "a dashboard under a locker's client id"
    );
    let borrowed = Some(("locker-SLM-L1", locker_password.as_str()));
    assert!(
        !logs_in(broker, "locker-SLM-L2", borrowed).await,
        "a locker under another locker's client id"
    );
    let crossed = Some(("locker-SLM-L1", other_password.as_str()));
    assert!(
        !logs_in(broker, "locker-SLM-L1", crossed).await,
        "another locker's password"
    );
    let service = Some(("armory-service", "0".repeat(64)));
    let service = service.as_ref().map(|(u, p)| (*u, p.as_str()));
    assert!(
        !logs_in(broker, "armory-service-1", service).await,
        "a made-up service password"
    );

    // The genuine identities do get in.
    assert!(logs_in(broker, "dashboard-2", dashboard).await);
    let (user, password) = ("armory-service", fleet.service_mqtt_password());
    assert!(
        logs_in(
            broker,
            "armory-service-test",
            Some((user, password.as_str()))
        )
        .await
    );

    // Every refused login but the anonymous one is counted: rumqttd turns
    // a CONNECT without credentials away before asking the service.
    let metrics = armory.service.render_metrics();
    let refusals = harness::counter(
        &metrics,
        "armory_broker_logins_total",
        "outcome=\"refused\"",
    );
    assert!(refusals >= 5, "{metrics}");
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_unlock_opens_nothing() {
    let armory = TestArmory::start().await;
    let before = armory.sim.stats().await;

    // Sealed under a key the attacker made up, with a counter above any
    // the service has used.
    let forger = FleetSecret::generate();
    let forged = unlock_under(&forger, &armory, u64::MAX - 1);
    armory.observer.publish(UNLOCK_TOPIC, forged, false).await;
    eventually("the locker to refuse the forgery", async || {
        refused(&armory.sim.stats().await, "bad_tag") > refused(&before, "bad_tag")
    })
    .await;

    let after = armory.sim.stats().await;
    assert_eq!(after.commands_accepted, before.commands_accepted);
    assert!(armory.all_audit().is_empty());
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_unlock_replayed_later_opens_nothing() {
    let armory = TestArmory::start().await;
    let captured = capture_an_unlock(&armory).await;
    // The unlock and the reader's outcome were carried out.
    let stats = armory.sim.stats().await;
    let accepted = stats.commands_accepted;

    // At once: its counter has been seen.
    let topic = captured.topic.clone();
    armory
        .observer
        .publish(&topic, captured.payload.clone(), false)
        .await;
    eventually("the replay to be refused", async || {
        armory.sim.stats().await.refused_total() > stats.refused_total()
    })
    .await;
    let replayed = refused(&armory.sim.stats().await, "replayed");
    assert_eq!(replayed, refused(&stats, "replayed") + 1);

    // Ten seconds on: it has also expired.
    armory.clock.advance(SignedDuration::from_secs(10));
    let stats = armory.sim.stats().await;
    armory
        .observer
        .publish(&topic, captured.payload, false)
        .await;
    eventually("the late replay to be refused", async || {
        armory.sim.stats().await.refused_total() > stats.refused_total()
    })
    .await;
    let after = armory.sim.stats().await;
    assert_eq!(refused(&after, "stale"), refused(&stats, "stale") + 1);
    assert_eq!(after.commands_accepted, accepted, "{after:?}");
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_unlock_published_while_the_service_is_down_opens_nothing_after_it_starts() {
    let armory = TestArmory::start().await;
    let captured = capture_an_unlock(&armory).await;
    let TestArmory {
        dir,
        service,
        sim,
        observer,
        clock,
        agency,
    } = armory;
    sim.shutdown().await;
    observer.stop().await;
    let database_path = service.database_path().to_path_buf();
    service.stop().await;

    // What the locker rows are once the first service has stopped: the
    // lockers' clean goodbyes (`controller_offline`) land while it stops.
    let locker_rows = |path: &std::path::Path| {
        let database = armory::store::Database::open_reader(path).expect("store");
        let rows = database
            .audit_rows(&armory::store::AuditFilter::default())
            .expect("audit");
        // A restart with another configuration text writes its own
        // `configuration_changed` row about the service; it does not count.
        rows.into_iter()
            .filter(|r| r.entry.site.as_str() != "service")
            .map(|r| (r.entry.action, r.entry.reason))
            .collect::<Vec<_>>()
    };
    let rows_before = locker_rows(&database_path);

    // The broker outlives the service, as an external one would; while
    // no service runs, an attacker leaves the captured unlock retained on
    // its topic.
    let config = harness::test_config(&dir.path().join("state"));
    let fleet = load_fleet_secret(&config, &clock).expect("keys load");
    let broker = EmbeddedBroker::start(&broker_settings(&config, &fleet, &clock))
        .await
        .expect("broker starts");
    let address = broker.address();
    let attacker = Observer::start(address, "attacker", "armory/#").await;
    attacker
        .publish(&captured.topic, captured.payload.clone(), true)
        .await;
    attacker
        .wait_until("the retained unlock to be stored", |seen| {
            seen.iter().any(|s| s.topic == captured.topic)
        })
        .await;

    // The service starts on that broker and its lockers connect: each
    // subscription brings the retained unlock.
    let service = Service::start_on(&config, clock.clone(), broker)
        .await
        .expect("service starts");
    let mut sim_config = SimConfig::new(address, service.fleet_secret().clone(), agency);
    sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
    sim_config.clock = clock.clone();
    let sim = Simulator::start(sim_config)
        .await
        .expect("simulator starts");
    eventually("the locker to refuse the retained unlock", async || {
        refused(&sim.stats().await, "retained") >= 1
    })
    .await;

    let stats = sim.stats().await;
    assert_eq!(stats.commands_accepted, 0, "{stats:?}");
    let rows_after = locker_rows(service.database_path());
    assert_eq!(rows_after, rows_before, "nothing new was audited");
    sim.shutdown().await;
    attacker.stop().await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_scan_from_another_client_creates_no_sign_out_and_is_counted() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let topic = "armory/v1/SLM/SLM-L1/event/reader/R1";
    let rejected_before = harness::counter(
        &armory.service.render_metrics(),
        "armory_device_events_rejected_total",
        "reason=\"bad_tag\"",
    );

    // A well-formed scan by a real officer, sealed under a key the
    // attacker made up, sent by the dashboard user.
    let forger = FleetSecret::generate().locker_key(&locker);
    let id = Uuid::new_v4();
    let body = DeviceEvent::Scan {
        badge_uid: officer.badge.reveal().to_owned(),
        pin_sealed: Some(forger.seal_pin(&pin, &id)),
        fingerprint_match: None,
        request: AccessRequest::SignOut {
            weapon_class: class,
        },
    };
    let header = Header {
        id,
        sender: locker.as_str(),
        counter: u64::MAX - 1,
        at: armory.clock.now(),
        lifetime: SignedDuration::from_secs(5),
    };
    let forged = SealedEnvelope::seal_with_id(&forger, topic, header, body).to_bytes();
    armory.observer.publish(topic, forged, false).await;

    eventually("the forged scan to be counted", async || {
        let metrics = armory.service.render_metrics();
        harness::counter(
            &metrics,
            "armory_device_events_rejected_total",
            "reason=\"bad_tag\"",
        ) > rejected_before
    })
    .await;
    assert!(armory.all_audit().is_empty(), "no attempt was audited");
    assert!(armory.unlock_commands().is_empty());
    let activity = armory.observer.matching(|s| s.topic.ends_with("/activity"));
    assert!(activity.is_empty(), "{activity:?}");

    // The locker still serves the real officer, whose counter is far
    // below the forger's: the forgery moved no counter.
    let outcome = armory
        .sim
        .scan(
            &locker,
            &TestArmory::reader("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.stop().await;
}
