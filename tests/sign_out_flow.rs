//! End to end: the service and the simulated lockers in one process, talking
//! MQTT over loopback, on the demo agency. A sign-out and its return go the
//! whole way, and every trace they leave is checked: audit rows, the
//! weapon's stored state, retained state topics, and unretained commands.

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use armory::store::AuditFilter;
use armory_actors::domain::{AssetTag, LockerId};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use harness::{Observer, TestArmory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weapon_goes_out_and_comes_back() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);

    // Sign-out: badge, PIN, class; the compartment opens and closes empty.
    let out = armory
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
        .expect("scan answered");
    assert!(out.granted(), "sign-out refused: {:?}", out.answer);
    let door = out.door.expect("the door cycled");
    assert!(!door.weapon_present);
    armory.wait_activity("signed_out", 1).await;

    let by_person = AuditFilter {
        employee_id: Some(officer.employee_id.clone()),
        ..AuditFilter::default()
    };
    let rows = armory.audit(&by_person);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let grant = &rows[0].entry;
    assert_eq!(grant.action, AuditAction::SignOutRequest);
    assert_eq!(grant.decision, Decision::Granted);
    assert_eq!(grant.reason, "granted");
    assert_eq!(grant.event_id, Some(out.scan));
    assert_eq!(grant.badge.as_ref(), Some(&officer.badge));
    assert_eq!(grant.compartment, Some(door.compartment));
    let asset: AssetTag = grant.asset_tag.clone().expect("a weapon was chosen");
    let signed_out = &rows[1].entry;
    assert_eq!(signed_out.action, AuditAction::SignedOut);
    assert_eq!(signed_out.transaction, grant.transaction);
    assert!(
        rows[0].local_time.ends_with("-08:00"),
        "{}",
        rows[0].local_time
    );

    let stored = armory
        .database()
        .weapon(&asset)
        .expect("query")
        .expect("weapon");
    assert_eq!(stored.holder.as_ref(), Some(&officer.employee_id));
    let before = armory.agency.armory.weapons[&asset].sign_outs_since_service;
    assert_eq!(stored.sign_outs_since_service, before + 1);

    // The chosen weapon was the least used available one of its class.
    let least_used = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class)
        .filter(|w| w.status == armory_actors::domain::ServiceStatus::InService)
        .map(|w| w.sign_outs_since_service)
        .min()
        .expect("one weapon at least");
    assert_eq!(before, least_used);

    // A late subscriber gets the retained state of the weapon, signed out.
    let weapon_topic = format!("armory/v1/SLM/SLM-L1/state/weapon/{asset}");
    let late = Observer::start(armory.service.broker_address(), "late-1", &weapon_topic).await;
    late.wait_until("retained weapon state", |seen| {
        seen.iter()
            .any(|s| s.retain && s.json()["condition"] == "signed_out")
    })
    .await;
    late.stop().await;

    // Return: badge and PIN; the same compartment opens and closes full.
    let back = armory
        .sim
        .scan(
            &locker,
            &TestArmory::reader("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::Return,
        )
        .await
        .expect("scan answered");
    assert!(back.granted(), "return refused: {:?}", back.answer);
    let door_back = back.door.expect("the door cycled");
    assert_eq!(door_back.compartment, door.compartment);
    assert!(door_back.weapon_present);
    armory.wait_activity("returned", 1).await;

    let rows = armory.audit(&by_person);
    let actions: Vec<_> = rows.iter().map(|r| r.entry.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::SignOutRequest,
            AuditAction::SignedOut,
            AuditAction::ReturnRequest,
            AuditAction::Returned
        ]
    );
    let stored = armory
        .database()
        .weapon(&asset)
        .expect("query")
        .expect("weapon");
    assert_eq!(stored.holder, None);
    assert!(armory.database().verify_audit().is_ok());

    // Metric labels are bounded: no person, weapon, badge or transaction.
    let metrics = armory.service.render_metrics();
    assert!(metrics.contains("armory_sign_outs_total"));
    let transaction = grant
        .transaction
        .expect("a grant has a transaction")
        .to_string();
    for id in [
        officer.employee_id.as_str(),
        asset.as_str(),
        officer.badge.reveal(),
        transaction.as_str(),
    ] {
        assert!(!metrics.contains(id), "{id} is in the metrics");
    }

    // The configuration the service started with is on record too.
    let configuration: Vec<_> = armory
        .service_audit()
        .into_iter()
        .map(|row| (row.entry.action, row.entry.reason))
        .collect();
    assert_eq!(
        configuration,
        [(
            AuditAction::ConfigurationChange,
            "configuration_loaded".to_owned()
        )]
    );

    // Commands went out unretained, one unlock per grant; none is retained
    // on the broker for a late subscriber.
    armory
        .observer
        .wait_until("both unlocks", |seen| {
            seen.iter()
                .filter(|s| s.topic.contains("/command/compartment/"))
                .count()
                == 2
        })
        .await;
    assert!(armory
        .observer
        .matching(|s| s.topic.contains("/command/"))
        .iter()
        .all(|s| !s.retain));
    let granted = armory
        .all_audit()
        .iter()
        .filter(|r| r.entry.decision == Decision::Granted)
        .count();
    assert_eq!(granted, armory.unlock_commands().len());

    // The locker's state is retained for a late dashboard. (This observer
    // subscribes at QoS 1, for which rumqttd replays at most 100 retained
    // messages, so it asks for the one topic; tests/demo_shift.rs shows a
    // QoS 0 mosquitto_sub on the whole tree getting all of them.)
    let broker = armory.service.broker_address();
    let late = Observer::start(broker, "late-2", "armory/v1/SLM/SLM-L1/state").await;
    late.wait_until("retained locker state", |seen| {
        seen.iter()
            .any(|s| s.retain && s.json()["locker"] == "SLM-L1")
    })
    .await;
    late.stop().await;

    // No command is retained: a late subscriber to every command topic
    // sees only a marker published after it subscribed.
    let late = Observer::start(broker, "late-3", "armory/v1/+/+/command/#").await;
    let marker = "armory/v1/TEST/NO-LOCKER/command/reader/R1";
    late.publish(marker, b"{}".to_vec(), false).await;
    late.wait_until("the marker", |seen| seen.iter().any(|s| s.topic == marker))
        .await;
    let commands = late.matching(|s| s.topic != marker);
    assert!(commands.is_empty(), "retained commands: {commands:?}");
    late.stop().await;

    tokio::time::timeout(Duration::from_secs(10), armory.stop())
        .await
        .expect("stops");
}
