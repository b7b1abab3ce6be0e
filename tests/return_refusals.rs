//! End to end: returns that have nothing to bring back. An officer who
//! badges "return" while holding nothing, and an officer who badges
//! "return" a second time after the weapon is already back, are refused
//! with `nothing_to_return`: one denied audit row each (an access attempt
//! like any other, so it is audited once, as a denied return request), no
//! compartment opens, and no weapon's counters or holder change.

#[path = "support/harness.rs"]
mod harness;

use armory::store::AuditFilter;
use armory_actors::domain::{AssetTag, EmployeeId, LockerId, ReaderId, ServiceStatus};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use harness::TestArmory;

/// What the store says about one weapon that a refusal must not change.
#[derive(Debug, PartialEq, Eq)]
struct Counters {
    sign_outs_since_service: u32,
    total_sign_outs: u32,
    deployments_since_service: u32,
    status: ServiceStatus,
    holder: Option<EmployeeId>,
}

/// Every weapon of `locker`, as the store has it now.
fn weapons_of(armory: &TestArmory, locker: &str) -> Vec<(AssetTag, Counters)> {
    let locker = LockerId::from(locker);
    let database = armory.database();
    armory
        .agency
        .armory
        .weapons
        .values()
        .filter(|weapon| weapon.locker == locker)
        .map(|weapon| {
            let stored = database
                .weapon(&weapon.asset_tag)
                .expect("weapon query")
                .expect("the weapon is in the store");
            let counters = Counters {
                sign_outs_since_service: stored.sign_outs_since_service,
                total_sign_outs: stored.total_sign_outs,
                deployments_since_service: stored.deployments_since_service,
                status: stored.status,
                holder: stored.holder,
            };
            (stored.asset_tag, counters)
        })
        .collect()
}

/// The audit rows about one person, as (action, decision, reason).
fn rows_of(armory: &TestArmory, person: &EmployeeId) -> Vec<(AuditAction, Decision, String)> {
    armory
        .audit(&AuditFilter {
            employee_id: Some(person.clone()),
            ..AuditFilter::default()
        })
        .into_iter()
        .map(|row| (row.entry.action, row.entry.decision, row.entry.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_with_nothing_held_is_refused_and_changes_nothing() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let r1 = ReaderId::from("R1");
    let (holder, class, holder_pin) = armory.officer_for("SLM-L1", &[]);
    let (stranger, _, stranger_pin) = armory.officer_for("SLM-L1", std::slice::from_ref(&holder));

    // The holder draws a weapon, so there is one out that is not the
    // stranger's to bring back.
    let out = armory
        .sim
        .scan(
            &locker,
            &r1,
            &holder.badge,
            Some(&holder_pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(out.granted(), "{:?}", out.answer);
    armory.wait_activity("signed_out", 1).await;
    let before = weapons_of(&armory, "SLM-L1");
    let unlocks_before = armory.unlock_commands().len();

    // The stranger never signed anything out: refused with the reason.
    let refused = armory
        .sim
        .scan(
            &locker,
            &r1,
            &stranger.badge,
            Some(&stranger_pin),
            AccessRequest::Return,
        )
        .await
        .expect("answered");
    assert!(!refused.granted());
    assert_eq!(refused.reason(), Some("nothing_to_return"));
    assert!(refused.door.is_none(), "no door cycled for a refusal");

    // Audited once, as a denied return request, with the reason and the
    // person; no weapon or compartment is named, since none was chosen.
    let rows = armory.audit(&AuditFilter {
        employee_id: Some(stranger.employee_id.clone()),
        ..AuditFilter::default()
    });
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0].entry;
    assert_eq!(row.action, AuditAction::ReturnRequest);
    assert_eq!(row.decision, Decision::Denied);
    assert_eq!(row.reason, "nothing_to_return");
    assert_eq!(row.badge.as_ref(), Some(&stranger.badge));
    assert_eq!(row.asset_tag, None);
    assert_eq!(row.compartment, None);

    // Nothing opened and nothing changed: the holder still holds it.
    assert_eq!(armory.unlock_commands().len(), unlocks_before);
    assert_eq!(weapons_of(&armory, "SLM-L1"), before);
    let denied = armory.observer.matching(|seen| {
        seen.topic.ends_with("/activity")
            && seen.json()["kind"] == "access_denied"
            && seen.json()["reason"] == "nothing_to_return"
    });
    assert_eq!(denied.len(), 1, "the refusal is announced once");
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_return_of_the_same_weapon_is_refused_and_changes_nothing() {
    let armory = TestArmory::start().await;
    let locker = LockerId::from("SLM-L1");
    let r1 = ReaderId::from("R1");
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let before_all = weapons_of(&armory, "SLM-L1");

    // Out and back once.
    let out = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(out.granted(), "{:?}", out.answer);
    let compartment = out.door.expect("the door cycled").compartment;
    armory.wait_activity("signed_out", 1).await;
    let back = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::Return,
        )
        .await
        .expect("answered");
    assert!(back.granted(), "{:?}", back.answer);
    assert_eq!(back.door.expect("the door cycled").compartment, compartment);
    armory.wait_activity("returned", 1).await;
    let after_one = weapons_of(&armory, "SLM-L1");
    let unlocks = armory.unlock_commands().len();
    assert_eq!(unlocks, 2);

    // The one round trip counted once, on one weapon.
    let changed: Vec<_> = before_all
        .iter()
        .zip(&after_one)
        .filter(|(before, after)| before != after)
        .map(|((tag, before), (_, after))| (tag.clone(), before, after))
        .collect();
    assert_eq!(changed.len(), 1, "{changed:#?}");
    let (asset, before, after) = &changed[0];
    assert_eq!(after.total_sign_outs, before.total_sign_outs + 1);
    assert_eq!(
        after.sign_outs_since_service,
        before.sign_outs_since_service + 1
    );
    assert_eq!(after.holder, None);

    // The same officer badges "return" again: nothing is theirs to return.
    let again = armory
        .sim
        .scan(
            &locker,
            &r1,
            &officer.badge,
            Some(&pin),
            AccessRequest::Return,
        )
        .await
        .expect("answered");
    assert!(!again.granted());
    assert_eq!(again.reason(), Some("nothing_to_return"));
    assert!(again.door.is_none());

    // One denied row more, nothing opened, the counters as they were.
    assert_eq!(
        rows_of(&armory, &officer.employee_id),
        [
            (
                AuditAction::SignOutRequest,
                Decision::Granted,
                "granted".into()
            ),
            (
                AuditAction::SignedOut,
                Decision::Recorded,
                "signed_out".into()
            ),
            (
                AuditAction::ReturnRequest,
                Decision::Granted,
                "granted".into()
            ),
            (AuditAction::Returned, Decision::Recorded, "returned".into()),
            (
                AuditAction::ReturnRequest,
                Decision::Denied,
                "nothing_to_return".into()
            ),
        ]
    );
    assert_eq!(armory.unlock_commands().len(), unlocks);
    assert_eq!(weapons_of(&armory, "SLM-L1"), after_one);
    let returned = armory.audit(&AuditFilter {
        asset_tag: Some(asset.clone()),
        ..AuditFilter::default()
    });
    let returns = returned
        .iter()
        .filter(|row| row.entry.action == AuditAction::Returned)
        .count();
    assert_eq!(returns, 1, "the weapon came back once");
    armory.stop().await;
}
