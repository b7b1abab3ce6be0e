//! A weapon's life driven by tokio's paused clock: it crosses its use
//! threshold and its day threshold, goes overdue, escalates, and clears on
//! return; each alert is raised once, recorded once, and a repeated event
//! raises nothing again. A weapon out across a restart of its actor goes
//! on counting from its stored sign-out and repeats no alert.

#[path = "support/outstanding.rs"]
mod outstanding;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use armory_actors::clock::Clock;
use armory_actors::domain::{AssetTag, EmployeeId, ServiceStatus, Weapon, WeaponClass};
use armory_actors::maintenance::{MaintenancePolicy, ServiceRule};
use armory_actors::ports::{AuditAction, AuditEntry, Bus, Outbound, Store, StoreRequest};
use armory_actors::protocol::FleetSecret;
use armory_actors::services::{CommandCounter, PersonnelHandle, Services, Timing};
use armory_actors::weapon::{WeaponActor, WeaponArguments, WeaponMsg, DUE_CHECK_EVERY};
use jiff::Timestamp;
use ractor::{Actor, ActorRef};
use tokio::sync::mpsc;
use uuid::Uuid;

const HOUR: Duration = Duration::from_secs(3600);

/// A weapon actor with a recording store and an inspectable bus.
struct Bench {
    weapon: ActorRef<WeaponMsg>,
    /// What it was started from, for a restart.
    arguments: WeaponArguments,
    audit: Arc<Mutex<Vec<AuditEntry>>>,
    bus: mpsc::Receiver<Outbound>,
    seen: Vec<Outbound>,
}

impl Bench {
    async fn start(sign_outs: u32, last_service: &str) -> Bench {
        let (store, mut requests) = Store::channel(64);
        let audit = Arc::new(Mutex::new(Vec::new()));
        let recorded = audit.clone();
        tokio::spawn(async move {
            let mut seq = 0;
            while let Some(request) = requests.recv().await {
                match request {
                    StoreRequest::Commit { entry, reply, .. } => {
                        seq += 1;
                        recorded.lock().expect("audit lock").push(*entry);
                        let _ = reply.send(Ok(seq));
                    }
                    StoreRequest::OpenGrant { reply, .. } => {
                        let _ = reply.send(Ok(None));
                    }
                    StoreRequest::OutstandingSignOut { asset_tag, reply } => {
                        let rows = recorded.lock().expect("audit lock");
                        let answer = outstanding::outstanding_sign_out(&rows, &asset_tag);
                        let _ = reply.send(Ok(answer));
                    }
                }
            }
        });
        let (bus, outbound) = Bus::channel(1024);

        let mut maintenance = MaintenancePolicy::default();
        let rule = ServiceRule {
            sign_outs: 3,
            days: 30,
            deployments: 50,
            expected_return_hours: 1,
            escalate_after_hours: 1,
            ..ServiceRule::default()
        };
        maintenance.classes.insert(WeaponClass::Cew, rule);
        let start: Timestamp = "2026-12-03T14:00:00Z".parse().expect("valid instant");
        let services = Services {
            bus,
            store,
            clock: Clock::following_tokio(start),
            personnel: PersonnelHandle::default(),
            fleet_secret: FleetSecret::generate(),
            timing: Timing::default(),
            commands: CommandCounter::starting_at(0),
            policy: Arc::default(),
            maintenance: Arc::new(maintenance),
        };
        let weapon = Weapon {
            asset_tag: AssetTag::from("LL-01001"),
            serial_number: "AX7101321".into(),
            make: "Axon".into(),
            model: "TASER 10".into(),
            class: WeaponClass::Cew,
            site: "SLM".into(),
            locker: "SLM-L1".into(),
            compartment: 2,
            status: ServiceStatus::InService,
            sign_outs_since_service: sign_outs,
            total_sign_outs: sign_outs,
            deployments_since_service: 0,
            last_service_date: last_service.parse().expect("valid date"),
            holder: None,
        };
        let arguments = WeaponArguments { weapon, services };
        let (weapon, _) = Actor::spawn(None, WeaponActor, arguments.clone())
            .await
            .expect("weapon starts");
        Bench {
            weapon,
            arguments,
            audit,
            bus: outbound,
            seen: Vec::new(),
        }
    }

    async fn sign_out(&self, holder: &str) -> Uuid {
        let transaction = Uuid::new_v4();
        let holder = EmployeeId::from(holder);
        ractor::call!(self.weapon, |reply| WeaponMsg::Reserve {
            transaction,
            holder,
            reply
        })
        .expect("answers")
        .expect("reserved");
        ractor::call!(self.weapon, |reply| WeaponMsg::ConfirmSignOut {
            transaction,
            reply
        })
        .expect("answers")
        .expect("recorded");
        transaction
    }

    async fn give_back(&self, holder: &str) {
        let transaction = Uuid::new_v4();
        let holder = EmployeeId::from(holder);
        ractor::call!(self.weapon, |reply| WeaponMsg::BeginReturn {
            transaction,
            holder,
            reply
        })
        .expect("answers")
        .expect("held");
        ractor::call!(self.weapon, |reply| WeaponMsg::ConfirmReturn {
            transaction,
            reply
        })
        .expect("answers")
        .expect("recorded");
    }

    /// Stops the weapon's actor and starts it again from what the store
    /// would load: the weapon held by `holder`.
    async fn restart(&mut self, holder: &str) {
        self.weapon
            .stop_and_wait(None, None)
            .await
            .expect("the weapon stops");
        let mut arguments = self.arguments.clone();
        arguments.weapon.holder = Some(EmployeeId::from(holder));
        let (weapon, _) = Actor::spawn(None, WeaponActor, arguments)
            .await
            .expect("weapon starts again");
        self.weapon = weapon;

        // Let the timers it set start counting before time moves on.
        self.pass(Duration::ZERO).await;
    }

    /// Lets time pass, then waits until the weapon has handled what the
    /// timers sent it.
    async fn pass(&mut self, span: Duration) {
        tokio::time::advance(span).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        ractor::call!(self.weapon, WeaponMsg::Status).expect("answers");
    }

    /// Alert kinds seen so far on the bus, in order.
    fn alerts(&mut self) -> Vec<String> {
        while let Ok(message) = self.bus.try_recv() {
            self.seen.push(message);
        }
        self.seen
            .iter()
            .filter(|m| m.topic.ends_with("/alert"))
            .filter_map(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok())
            .map(|alert| alert["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn audited(&self, action: AuditAction) -> Vec<String> {
        self.audit
            .lock()
            .expect("audit lock")
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.reason.clone())
            .collect()
    }

    async fn status(&self) -> ServiceStatus {
        ractor::call!(self.weapon, WeaponMsg::Status)
            .expect("answers")
            .status
    }
}

#[tokio::test(start_paused = true)]
async fn a_weapon_crosses_its_use_threshold_once() {
    let mut bench = Bench::start(1, "2026-11-20").await;

    bench.sign_out("E40004").await;
    bench.give_back("E40004").await;
    assert!(bench.alerts().is_empty());
    assert_eq!(bench.status().await, ServiceStatus::InService);

    let third = bench.sign_out("E40004").await;
    assert_eq!(bench.alerts(), ["service_due"]);
    assert_eq!(bench.audited(AuditAction::ServiceDue), ["due_by_sign_outs"]);
    assert_eq!(bench.status().await, ServiceStatus::NeedsService);

    // The same confirmation again (a redelivery) changes nothing.
    let again = ractor::call!(bench.weapon, |reply| WeaponMsg::ConfirmSignOut {
        transaction: third,
        reply
    })
    .expect("answers");
    assert!(again.is_err());
    bench.give_back("E40004").await;

    // Due under a warning policy: still issued, and not alerted again.
    bench.sign_out("E40012").await;
    assert_eq!(bench.alerts(), ["service_due"]);
    assert_eq!(bench.audited(AuditAction::ServiceDue).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_weapon_crosses_its_day_threshold_while_it_sits() {
    // Serviced 29 days before the start: due 30 days after, a day later.
    let mut bench = Bench::start(0, "2026-11-04").await;
    bench.pass(DUE_CHECK_EVERY).await;
    assert!(bench.alerts().is_empty());

    bench.pass(24 * HOUR).await;
    assert_eq!(bench.alerts(), ["service_due"]);
    assert_eq!(bench.audited(AuditAction::ServiceDue), ["due_by_days"]);

    bench.pass(48 * HOUR).await;
    assert_eq!(bench.alerts(), ["service_due"]);
}

#[tokio::test(start_paused = true)]
async fn an_overdue_weapon_escalates_then_clears_on_return() {
    let mut bench = Bench::start(0, "2026-11-30").await;
    bench.sign_out("E40004").await;

    bench.pass(HOUR - Duration::from_secs(1)).await;
    assert!(bench.alerts().is_empty());
    bench.pass(Duration::from_secs(1)).await;
    assert_eq!(bench.alerts(), ["weapon_overdue"]);

    bench.pass(HOUR).await;
    assert_eq!(
        bench.alerts(),
        ["weapon_overdue", "weapon_overdue_escalated"]
    );
    bench.pass(5 * HOUR).await;
    assert_eq!(bench.alerts().len(), 2, "escalated only once");

    bench.give_back("E40004").await;
    assert_eq!(
        bench.alerts(),
        [
            "weapon_overdue",
            "weapon_overdue_escalated",
            "weapon_overdue_cleared"
        ]
    );
    assert_eq!(
        bench.audited(AuditAction::Overdue),
        [
            "weapon_overdue",
            "weapon_overdue_escalated",
            "weapon_overdue_cleared"
        ]
    );

    // A new sign-out returned in time raises nothing.
    bench.sign_out("E40004").await;
    bench.pass(HOUR / 2).await;
    bench.give_back("E40004").await;
    bench.pass(3 * HOUR).await;
    assert_eq!(bench.alerts().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_weapon_out_across_a_restart_counts_from_its_sign_out_and_repeats_no_alert() {
    let mut bench = Bench::start(0, "2026-11-30").await;
    let transaction = bench.sign_out("E40004").await;

    // Forty minutes out, the actor restarts: overdue comes twenty minutes
    // later, at the hour from the sign-out, not an hour from the restart.
    bench.pass(Duration::from_secs(40 * 60)).await;
    bench.restart("E40004").await;
    bench.pass(Duration::from_secs(20 * 60 - 1)).await;
    assert!(bench.alerts().is_empty());
    bench.pass(Duration::from_secs(1)).await;
    assert_eq!(bench.alerts(), ["weapon_overdue"]);

    // Restarted while late: no second overdue alert, and the escalation
    // still comes an hour after the overdue one.
    bench.pass(HOUR / 2).await;
    bench.restart("E40004").await;
    bench.pass(HOUR / 2 - Duration::from_secs(1)).await;
    assert_eq!(bench.alerts(), ["weapon_overdue"]);
    bench.pass(Duration::from_secs(1)).await;
    assert_eq!(
        bench.alerts(),
        ["weapon_overdue", "weapon_overdue_escalated"]
    );

    // Restarted once escalated: nothing more, until it comes back.
    bench.restart("E40004").await;
    bench.pass(5 * HOUR).await;
    assert_eq!(bench.alerts().len(), 2);
    bench.give_back("E40004").await;
    assert_eq!(bench.alerts().len(), 3, "cleared on return");
    let overdue_rows: Vec<_> = bench
        .audit
        .lock()
        .expect("audit lock")
        .iter()
        .filter(|e| e.action == AuditAction::Overdue && e.reason != "weapon_overdue_cleared")
        .map(|e| (e.reason.clone(), e.transaction))
        .collect();
    assert_eq!(
        overdue_rows,
        [
            ("weapon_overdue".to_owned(), Some(transaction)),
            ("weapon_overdue_escalated".to_owned(), Some(transaction)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_problem_found_at_sign_out_puts_the_weapon_back_quarantined() {
    use armory_actors::ports::{ProblemCode, ProblemNote};
    use armory_actors::protocol::WeaponCondition;
    use armory_actors::rules::Reason;
    use armory_actors::weapon::ReportEffect;

    let mut bench = Bench::start(0, "2026-11-30").await;
    let transaction = Uuid::new_v4();
    let holder = EmployeeId::from("E40004");
    ractor::call!(bench.weapon, |reply| WeaponMsg::Reserve {
        transaction,
        holder: holder.clone(),
        reply
    })
    .expect("answers")
    .expect("reserved");

    let note = |reporter: &str| ProblemNote {
        code: ProblemCode::Damaged,
        text: Some("cracked housing".into()),
        reporter: EmployeeId::from(reporter),
        at: "2026-12-03T14:00:00Z".parse().expect("valid instant"),
    };
    // Someone who does not hold it cannot report on it.
    let stranger = ractor::call!(bench.weapon, |reply| WeaponMsg::Report {
        event_id: Uuid::new_v4(),
        reporter: EmployeeId::from("E49999"),
        deployments: Some(4),
        problem: Some(note("E49999")),
        reply
    })
    .expect("answers");
    assert_eq!(stranger, Err(Reason::ReportNotHolder));

    let effect = ractor::call!(bench.weapon, |reply| WeaponMsg::Report {
        event_id: Uuid::new_v4(),
        reporter: holder.clone(),
        deployments: None,
        problem: Some(note("E40004")),
        reply
    })
    .expect("answers");
    assert_eq!(effect, Ok(ReportEffect::PutBack));
    assert_eq!(bench.status().await, ServiceStatus::Quarantined);
    assert_eq!(bench.alerts(), ["weapon_quarantined"]);
    assert_eq!(bench.audited(AuditAction::ProblemReport), ["damaged"]);

    // The door closes on it: it stays, and is never offered again.
    bench
        .weapon
        .cast(WeaponMsg::Release { transaction })
        .expect("sent");
    let view = ractor::call!(bench.weapon, WeaponMsg::Status).expect("answers");
    assert_eq!(view.condition, WeaponCondition::Unavailable);
    let refused = ractor::call!(bench.weapon, |reply| WeaponMsg::Reserve {
        transaction: Uuid::new_v4(),
        holder: holder.clone(),
        reply
    })
    .expect("answers");
    assert!(refused.is_err());
    assert!(bench.audited(AuditAction::Deployment).is_empty());
}
