//! End to end: hostile or broken device traffic is refused, counted and
//! changes nothing; the locker it was aimed at keeps serving.

#[path = "support/harness.rs"]
mod harness;

use armory_actors::domain::{LockerId, ReaderId};
use armory_actors::protocol::seal::Header;
use armory_actors::protocol::{AccessRequest, DeviceEvent, SealedEnvelope, Topic};
use harness::TestArmory;
use jiff::SignedDuration;
use uuid::Uuid;

fn sealed(armory: &TestArmory, topic: &str, locker: &LockerId, body: DeviceEvent) -> Vec<u8> {
    let key = armory.service.fleet_secret().locker_key(locker);
    let header = Header {
        id: Uuid::new_v4(),
        sender: locker.as_str(),
        counter: armory_device_sim::hardware::unix_micros(),
        at: armory.clock.now(),
        lifetime: SignedDuration::from_secs(30),
    };
    SealedEnvelope::seal_with_id(&key, topic, header, body).to_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_refused_counted_and_harmless() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let scan = DeviceEvent::Scan {
        badge_uid: officer.badge.reveal().to_owned(),
        pin_sealed: None,
        fingerprint_match: None,
        request: AccessRequest::SignOut {
            weapon_class: class,
        },
    };
    let reader_topic = "armory/v1/SLM/SLM-L1/event/reader/R1";

    let hostile: Vec<(String, Vec<u8>)> = vec![
        // Not JSON at all.
        (reader_topic.into(), b"\x00\xffnot json".to_vec()),
        // JSON of the wrong shape.
        (reader_topic.into(), br#"{"v":1,"hello":"world"}"#.to_vec()),
        // A well-formed scan with a forged tag.
        (
            reader_topic.into(),
            String::from_utf8(sealed(&armory, reader_topic, &locker, scan.clone()))
                .expect("JSON")
                .replace("\"tag\":\"", "\"tag\":\"00")
                .into_bytes(),
        ),
        // A locker nobody configured.
        (
            "armory/v1/SLM/SLM-L99/event/reader/R1".into(),
            sealed(
                &armory,
                "armory/v1/SLM/SLM-L99/event/reader/R1",
                &"SLM-L99".into(),
                scan.clone(),
            ),
        ),
        // A real locker under the wrong site.
        (
            "armory/v1/PDX/SLM-L1/event/reader/R1".into(),
            sealed(
                &armory,
                "armory/v1/PDX/SLM-L1/event/reader/R1",
                &locker,
                scan.clone(),
            ),
        ),
        // Too large.
        (reader_topic.into(), vec![b' '; 64 * 1024 - 200]),
    ];
    for (topic, payload) in hostile {
        armory.observer.publish(&topic, payload, false).await;
    }

    // Correctly sealed, in order with the locker's own events (through the
    // simulated controller), but naming what the locker does not have, or
    // on the wrong kind of topic.
    let correctly_sealed = [
        (
            Topic::ReaderEvent {
                site: "SLM".into(),
                locker: locker.clone(),
                reader: ReaderId::from("R9"),
            },
            scan.clone(),
        ),
        (
            Topic::CompartmentEvent {
                site: "SLM".into(),
                locker: locker.clone(),
                compartment: 99,
            },
            DeviceEvent::DoorOpened,
        ),
        (
            Topic::ReaderEvent {
                site: "SLM".into(),
                locker: locker.clone(),
                reader: ReaderId::from("R1"),
            },
            DeviceEvent::DoorOpened,
        ),
    ];
    for (topic, body) in correctly_sealed {
        armory.send_event("SLM-L1", &topic, body).await;
    }
    let sent = 9;

    // The locker still serves a genuine officer afterwards (and so has
    // handled everything sent before, in order).
    let outcome = armory
        .sim
        .scan(
            &locker,
            &ReaderId::from("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.wait_activity("signed_out", 1).await;

    // Nothing the garbage said was acted on or audited.
    let rows = armory.all_audit();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(armory.unlock_commands().len(), 1);

    let metrics = armory.service.render_metrics();
    let rejected = harness::counter(&metrics, "armory_device_events_rejected_total", "reason=");
    assert!(
        rejected >= sent,
        "only {rejected} of {sent} counted:\n{metrics}"
    );
    for reason in [
        "malformed",
        "bad_tag",
        "unknown_locker",
        "wrong_site",
        "unknown_reader",
        "unknown_compartment",
        "misrouted",
        "too_large",
    ] {
        let label = format!("reason=\"{reason}\"");
        assert!(
            harness::counter(&metrics, "armory_device_events_rejected_total", &label) >= 1,
            "{reason} not counted:\n{metrics}"
        );
    }
    armory.stop().await;
}
