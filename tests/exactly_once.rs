//! End to end: one weapon, one holder. Two officers asking for the last
//! weapon of a class at the same moment, and a scan delivered twice (as a
//! QoS 1 redelivery does), each yield exactly one sign-out and one unlock.

#[path = "support/harness.rs"]
mod harness;

use armory::store::AuditFilter;
use armory_actors::domain::{LockerId, Person, ReaderKind, ServiceStatus, WeaponClass};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::{AccessRequest, DeviceEvent, Topic};
use harness::TestArmory;

fn count(armory: &TestArmory, action: AuditAction, decision: Decision) -> usize {
    armory
        .all_audit()
        .iter()
        .filter(|r| r.entry.action == action && r.entry.decision == decision)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_officers_race_for_the_last_weapon() {
    let armory = TestArmory::start().await;

    // SLM-L2 has a PIN reader (R1) and a fingerprint reader (R2).
    let locker = LockerId::from("SLM-L2");
    let kinds: Vec<_> = armory.agency.armory.lockers[&locker].reader_ids().collect();
    assert_eq!(kinds[1].1, ReaderKind::BadgeFingerprint);
    let (first, class, first_pin) = armory.officer_for("SLM-L2", &[]);
    let serviceable = armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.class == class)
        .filter(|w| w.status == ServiceStatus::InService)
        .count();

    // Leave exactly one weapon of the class in the locker.
    let mut takers: Vec<Person> = vec![first.clone()];
    for _ in 1..serviceable {
        let (taker, _, pin) = armory.officer_for_class("SLM-L2", class, &takers);
        let outcome = armory
            .sim
            .scan(
                &locker,
                &TestArmory::reader("R1"),
                &taker.badge,
                Some(&pin),
                sign_out(class),
            )
            .await
            .expect("answered");
        assert!(outcome.granted());
        armory.wait_activity("signed_out", takers.len()).await;
        takers.push(taker);
    }
    let (second, _, second_pin) = armory.officer_for_class("SLM-L2", class, &takers);
    let unlocks_before = armory.unlock_commands().len();

    // Both ask at once, at different readers.
    let r1 = TestArmory::reader("R1");
    let r2 = TestArmory::reader("R2");
    let (a, b) = tokio::join!(
        armory.sim.scan(
            &locker,
            &r1,
            &first.badge,
            Some(&first_pin),
            sign_out(class)
        ),
        armory.sim.scan(
            &locker,
            &r2,
            &second.badge,
            Some(&second_pin),
            sign_out(class)
        ),
    );
    let (a, b) = (a.expect("answered"), b.expect("answered"));
    assert_eq!(
        [a.granted(), b.granted()].iter().filter(|g| **g).count(),
        1,
        "{a:?} {b:?}"
    );
    let loser = if a.granted() { &b } else { &a };
    assert_eq!(loser.reason(), Some("no_weapon_available"));

    armory.wait_activity("signed_out", serviceable).await;
    assert_eq!(armory.unlock_commands().len(), unlocks_before + 1);
    assert_eq!(
        count(&armory, AuditAction::SignedOut, Decision::Recorded),
        serviceable
    );
    let granted = count(&armory, AuditAction::SignOutRequest, Decision::Granted);
    assert_eq!(granted, armory.unlock_commands().len());
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_scan_counts_once() {
    let armory = TestArmory::start().await;
    let (officer, class, _) = armory.officer_for("SLM-L2", &[]);

    // The scan SLM-L2's fingerprint reader sends, through the simulated
    // controller (sealed, counted in order), then delivered a second time
    // as after a lost PUBACK.
    let topic = Topic::ReaderEvent {
        site: "SLM".into(),
        locker: LockerId::from("SLM-L2"),
        reader: TestArmory::reader("R2"),
    };
    let body = DeviceEvent::Scan {
        badge_uid: officer.badge.reveal().to_owned(),
        pin_sealed: None,
        fingerprint_match: Some(true),
        request: sign_out(class),
    };
    let duplicates_before = armory.duplicate_events();
    let (_, bytes) = armory.send_event("SLM-L2", &topic, body).await;
    armory.observer.publish(&topic.name(), bytes, false).await;

    // The second copy is recognised and counted as a duplicate: only then
    // is it certain that it has been handled (and changed nothing).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while armory.duplicate_events() <= duplicates_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redelivered scan was never recognised as a duplicate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    armory
        .observer
        .wait_until("the weapon to leave", |seen| {
            seen.iter()
                .any(|s| s.topic.ends_with("/activity") && s.json()["kind"] == "signed_out")
        })
        .await;
    let rows = armory.audit(&AuditFilter {
        employee_id: Some(officer.employee_id.clone()),
        ..AuditFilter::default()
    });
    let actions: Vec<_> = rows.iter().map(|r| r.entry.action).collect();
    assert_eq!(
        actions,
        [AuditAction::SignOutRequest, AuditAction::SignedOut]
    );
    assert_eq!(armory.unlock_commands().len(), 1);
    let outcomes = armory
        .observer
        .matching(|s| s.topic.ends_with("SLM-L2/command/reader/R2"));
    assert_eq!(outcomes.len(), 1, "the reader was answered once");
    armory.stop().await;
}

fn sign_out(class: WeaponClass) -> AccessRequest {
    AccessRequest::SignOut {
        weapon_class: class,
    }
}
