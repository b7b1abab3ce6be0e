//! A simulated shift: many officers at many lockers at once.
//!
//! [`run_shift`] builds a plan from its seed: the given number of sign-outs
//! and about one deliberate denial for every ten of them (a wrong PIN, a
//! suspended person's own badge and PIN, a badge nobody holds), shuffled.
//! A number of workers then take jobs from the plan, each playing one
//! officer at a time: scan and sign a weapon out, hold it a moment, scan
//! again and put it back. The seed fixes the plan; who is picked for a job
//! and how long things take depend on timing. The result is a
//! [`ShiftReport`].

mod crew;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use armory_actors::domain::{BadgeUid, LockerId, ReaderId, WeaponClass};
use armory_actors::protocol::AccessRequest;
use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::hardware::human_delay;
use crate::report::{LatencySummary, ShiftReport};
use crate::scan::{Answer, Presented, ScanOutcome};
use crate::{SimError, Simulator};

pub use crew::{select_crew, Draw, Officer};

/// How often a return that was not carried out is tried again.
const RETURN_ATTEMPTS: usize = 3;

/// How a shift runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftPlan {
    /// Sign-outs to attempt; each is followed by its return.
    pub sign_outs: usize,
    /// Officers at lockers at the same time (at most one per crew member).
    pub officers_at_once: usize,
    /// Seed of the plan.
    pub seed: u64,
}

/// One thing an officer, or an impostor, does at a locker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    /// Sign a weapon out, hold it, return it.
    SignOutAndReturn,
    /// A crew member types a wrong PIN.
    WrongPin,
    /// A suspended person tries with their own badge and PIN.
    Suspended,
    /// A badge nobody holds.
    UnknownBadge,
}

/// The jobs of a shift, in order.
fn plan_jobs(plan: &ShiftPlan, rng: &mut StdRng) -> VecDeque<Job> {
    let denials = plan.sign_outs.div_ceil(10);
    let kinds = [Job::WrongPin, Job::Suspended, Job::UnknownBadge];
    let mut jobs: Vec<Job> = std::iter::repeat_n(Job::SignOutAndReturn, plan.sign_outs)
        .chain(kinds.iter().copied().cycle().take(denials))
        .collect();
    jobs.shuffle(rng);
    jobs.into()
}

/// Plays a shift on the simulator's lockers, certifications read at the
/// simulator's clock.
pub async fn run_shift(sim: &Simulator, plan: ShiftPlan) -> Result<ShiftReport, SimError> {
    run_shift_at(sim, plan, sim.clock().now()).await
}

/// Plays a shift with certifications read at `now` (the instant the
/// service under test believes it is).
pub async fn run_shift_at(
    sim: &Simulator,
    plan: ShiftPlan,
    now: Timestamp,
) -> Result<ShiftReport, SimError> {
    let agency = sim.agency();
    let crew = select_crew(agency, sim.access(), now);
    if crew.is_empty() {
        return Err(SimError::NoCrew);
    }
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let jobs = plan_jobs(&plan, &mut rng);
    let workers = plan.officers_at_once.clamp(1, crew.len());
    tracing::info!(
        jobs = jobs.len(),
        workers,
        crew = crew.len(),
        "shift starting"
    );

    let shared = Arc::new(ShiftState {
        jobs: Mutex::new(jobs),
        pool: Mutex::new(crew),
        suspended: crew::suspended_people(agency),
        keypads: crew::keypad_readers(agency, sim.access()),
        tally: Mutex::new(Tally::default()),
    });
    let started = Instant::now();
    let mut running = Vec::with_capacity(workers);
    for worker in 0..workers {
        let seed = plan.seed.wrapping_add(1 + worker as u64);
        running.push(tokio::spawn(work(
            sim.clone(),
            Arc::clone(&shared),
            StdRng::seed_from_u64(seed),
        )));
    }
    let mut first_error = None;
    for handle in running {
        let result = handle.await.unwrap_or(Err(SimError::Stopped));
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }

    let tally = std::mem::take(&mut *lock(&shared.tally));
    let mut report = tally.into_report();
    report.elapsed = started.elapsed();
    report.hardware = sim.stats().await;
    tracing::info!(
        attempts = report.attempts,
        granted = report.granted,
        "shift done"
    );
    Ok(report)
}

struct ShiftState {
    jobs: Mutex<VecDeque<Job>>,
    /// Officers free to take a job; one left holding a weapon it could not
    /// return is not put back.
    pool: Mutex<Vec<Officer>>,
    suspended: Vec<crew::Suspended>,
    keypads: Vec<(LockerId, armory_actors::domain::SiteId, ReaderId)>,
    tally: Mutex<Tally>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent across a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One worker: takes jobs until none are left.
async fn work(sim: Simulator, shift: Arc<ShiftState>, mut rng: StdRng) -> Result<(), SimError> {
    loop {
        let Some(job) = lock(&shift.jobs).pop_front() else {
            return Ok(());
        };
        let officer = {
            let mut pool = lock(&shift.pool);
            if pool.is_empty() {
                None
            } else {
                let index = rng.gen_range(0..pool.len());
                Some(pool.swap_remove(index))
            }
        };
        let Some(officer) = officer else {
            lock(&shift.tally).skipped += 1;
            continue;
        };

        let free = match job {
            Job::SignOutAndReturn => sign_out_and_return(&sim, &shift, &officer, &mut rng).await?,
            Job::WrongPin => {
                let pin = crew::wrong_pin(&officer.pin);
                impostor(
                    &sim,
                    &shift,
                    &officer.badge,
                    &pin,
                    &officer.home_site,
                    &mut rng,
                )
                .await?;
                true
            }
            Job::Suspended => {
                match shift.suspended.choose(&mut rng).cloned() {
                    Some(person) => {
                        let (badge, pin, site) = (person.badge, person.pin, person.home_site);
                        impostor(&sim, &shift, &badge, &pin, &site, &mut rng).await?;
                    }
                    None => unknown_badge(&sim, &shift, &officer, &mut rng).await?,
                }
                true
            }
            Job::UnknownBadge => {
                unknown_badge(&sim, &shift, &officer, &mut rng).await?;
                true
            }
        };
        if free {
            lock(&shift.pool).push(officer);
        }
    }
}

/// Signs a weapon out, holds it, returns it. Returns whether the officer
/// is free again (holds nothing, as far as the doors showed).
async fn sign_out_and_return(
    sim: &Simulator,
    shift: &ShiftState,
    officer: &Officer,
    rng: &mut StdRng,
) -> Result<bool, SimError> {
    let Some(draw) = officer.draws.choose(rng).cloned() else {
        return Ok(true);
    };
    let request = AccessRequest::SignOut {
        weapon_class: draw.class,
    };
    let outcome = honest_scan(sim, officer, &draw.locker, request, rng).await?;
    shift.record(&outcome, false);
    match (&outcome.answer, outcome.door) {
        (Answer::Granted { .. }, Some(door)) if !door.weapon_present => {
            lock(&shift.tally).report.sign_outs_completed += 1;
        }
        // Granted but the door never cycled: whether the weapon left is
        // unknown, so this officer sits the rest of the shift out.
        (Answer::Granted { .. }, _) => return Ok(false),
        _ => return Ok(true),
    }

    tokio::time::sleep(human_delay(sim.handling_delay(), rng)).await;
    for _ in 0..RETURN_ATTEMPTS {
        let outcome = honest_scan(sim, officer, &draw.locker, AccessRequest::Return, rng).await?;
        shift.record(&outcome, false);
        if let (Answer::Granted { .. }, Some(door)) = (&outcome.answer, outcome.door) {
            if door.weapon_present {
                lock(&shift.tally).report.returns_completed += 1;
                return Ok(true);
            }
        }
        tokio::time::sleep(human_delay(sim.handling_delay(), rng)).await;
    }
    Ok(false)
}

/// A genuine holder at a random reader of `locker`.
async fn honest_scan(
    sim: &Simulator,
    officer: &Officer,
    locker: &LockerId,
    request: AccessRequest,
    rng: &mut StdRng,
) -> Result<ScanOutcome, SimError> {
    let readers = crew::allowed_readers(sim.agency(), sim.access(), locker);
    let Some((reader, _)) = readers.choose(rng) else {
        return Err(SimError::UnknownLocker {
            locker: locker.clone(),
        });
    };
    sim.scan(locker, reader, &officer.badge, Some(&officer.pin), request)
        .await
}

/// A scan that must be denied, at a keypad reader (at `site` if it has one).
async fn impostor(
    sim: &Simulator,
    shift: &ShiftState,
    badge: &BadgeUid,
    pin: &str,
    site: &armory_actors::domain::SiteId,
    rng: &mut StdRng,
) -> Result<(), SimError> {
    let at_site: Vec<_> = shift.keypads.iter().filter(|(_, s, _)| s == site).collect();
    let choice = if at_site.is_empty() {
        shift.keypads.choose(rng)
    } else {
        at_site.choose(rng).copied()
    };
    let Some((locker, _, reader)) = choice else {
        return Ok(());
    };

    let presented = Presented {
        badge: badge.clone(),
        pin: Some(pin.to_owned()),
        fingerprint_match: None,
    };
    let class = WeaponClass::ALL
        .choose(rng)
        .copied()
        .unwrap_or(WeaponClass::Cew);
    let request = AccessRequest::SignOut {
        weapon_class: class,
    };
    let outcome = sim
        .scan_presented(locker, reader, &presented, request)
        .await?;
    shift.record(&outcome, true);
    Ok(())
}

/// A badge that no one in the roster holds, with a plausible PIN.
async fn unknown_badge(
    sim: &Simulator,
    shift: &ShiftState,
    near: &Officer,
    rng: &mut StdRng,
) -> Result<(), SimError> {
    let badge = loop {
        let text = format!("{:08X}", rng.gen::<u32>());
        let Ok(badge) = BadgeUid::parse(&text) else {
            continue;
        };
        if sim.agency().personnel.by_badge(&badge).is_none() {
            break badge;
        }
    };
    let pin = format!("{:06}", rng.gen_range(0..1_000_000));
    impostor(sim, shift, &badge, &pin, &near.home_site, rng).await
}

impl ShiftState {
    fn record(&self, outcome: &ScanOutcome, deliberate: bool) {
        lock(&self.tally).record(outcome, deliberate);
    }
}

/// What the workers saw, until it becomes a report.
#[derive(Default)]
struct Tally {
    report: ShiftReport,
    to_outcome: Vec<Duration>,
    to_door_closed: Vec<Duration>,
    skipped: usize,
}

impl Tally {
    fn record(&mut self, outcome: &ScanOutcome, deliberate: bool) {
        let report = &mut self.report;
        report.attempts += 1;
        if deliberate {
            report.deliberate_denials += 1;
        }
        match &outcome.answer {
            Answer::Granted { .. } => {
                report.granted += 1;
                if deliberate {
                    report.deliberate_granted += 1;
                }
                if outcome.door.is_none() {
                    report.door_timeouts += 1;
                }
            }
            Answer::Denied { reason } => {
                *report.denied.entry(reason.clone()).or_default() += 1;
            }
            Answer::NoAnswer => report.outcome_timeouts += 1,
        }
        self.to_outcome.extend(outcome.outcome_latency);
        self.to_door_closed
            .extend(outcome.door.map(|door| door.latency));
    }

    fn into_report(self) -> ShiftReport {
        let mut report = self.report;
        report.skipped = self.skipped;
        report.to_outcome = LatencySummary::from_samples(&self.to_outcome);
        report.to_door_closed = LatencySummary::from_samples(&self.to_door_closed);
        report
    }
}
