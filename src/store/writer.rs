//! The store's single writer: a dedicated OS thread with group commit.
//!
//! The thread waits for one [`StoreRequest`], takes every request already
//! queued behind it, and commits them all in one immediate transaction, so
//! that one fsync covers the whole batch. Each request runs in its own
//! savepoint: a duplicate event id or a weapon change that contradicts the
//! stored state rolls back that request alone and the rest of the batch
//! commits. A SQLite failure rolls back the whole batch and every request
//! in it is answered [`StoreError::Failed`], so its caller fails secure.
//! Replies go out only after the commit returned, which is what makes a
//! grant durable before its unlock is sent. The thread ends when every
//! [`Store`](armory_actors::ports::Store) handle is dropped.

use std::collections::HashMap;
use std::thread::JoinHandle;
use std::time::Instant;

use armory_actors::domain::SiteId;
use armory_actors::ports::{AuditEntry, StoreError, StoreRequest, WeaponChange};
use jiff::tz::TimeZone;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::mpsc;
use tokio::sync::oneshot;

use super::audit::{append, has_event, local_time};
use super::weapons::apply_change;
use super::{Database, DbError, SqlContext};

/// The most requests committed together; bounds one transaction's size
/// and the wait of the first request in it.
const MAX_BATCH: usize = 512;

/// Why one request of a batch did not commit.
pub(super) enum RequestFailure {
    /// Refused for this request only; its savepoint is rolled back.
    Refused(StoreError),
    /// The database failed; the whole batch is rolled back.
    Database(DbError),
}

impl From<DbError> for RequestFailure {
    fn from(error: DbError) -> Self {
        RequestFailure::Database(error)
    }
}

/// One queued commit and where its answer goes.
struct Pending {
    entry: AuditEntry,
    change: Option<WeaponChange>,
    reply: oneshot::Sender<Result<i64, StoreError>>,
}

/// Starts the writer thread on `db`, serving `requests` until the channel
/// closes.
pub fn spawn_writer(
    db: Database,
    requests: mpsc::Receiver<StoreRequest>,
) -> Result<JoinHandle<()>, DbError> {
    std::thread::Builder::new()
        .name("armory-store-writer".to_owned())
        .spawn(move || run(db, requests))
        .map_err(|source| DbError::Thread { source })
}

fn run(mut db: Database, mut requests: mpsc::Receiver<StoreRequest>) {
    tracing::info!(path = %db.path.display(), "store writer started");
    let mut zones = Zones::default();

    while let Some(first) = requests.blocking_recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                StoreRequest::Commit {
                    entry,
                    change,
                    reply,
                } => batch.push(Pending {
                    entry: *entry,
                    change,
                    reply,
                }),
                // Reads are answered at once, from this same connection,
                // so they see every commit made before them.
                StoreRequest::OpenGrant { asset_tag, reply } => {
                    let answer =
                        super::recovery::open_grant(&db.conn, &asset_tag).map_err(|error| {
                            StoreError::Failed {
                                detail: error.to_string(),
                            }
                        });
                    let _ = reply.send(answer);
                }
                StoreRequest::OutstandingSignOut { asset_tag, reply } => {
                    let answer = super::recovery::outstanding_sign_out(&db.conn, &asset_tag)
                        .map_err(|error| StoreError::Failed {
                            detail: error.to_string(),
                        });
                    let _ = reply.send(answer);
                }
            }
            if batch.len() < MAX_BATCH {
                next = requests.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut db.conn, &mut zones, batch);
        }
    }
    tracing::info!(path = %db.path.display(), "store writer stopped");
}

/// Commits `batch` in one transaction and answers every request in it.
fn commit_batch(conn: &mut Connection, zones: &mut Zones, batch: Vec<Pending>) {
    let started = Instant::now();
    let size = batch.len();
    let outcomes = match write_batch(conn, zones, &batch) {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::error!(batch_size = size, %error, "store batch failed; rolled back");
            let detail = error.to_string();
            batch
                .iter()
                .map(|_| {
                    Err(StoreError::Failed {
                        detail: detail.clone(),
                    })
                })
                .collect()
        }
    };

    metrics::counter!("armory_store_commits_total").increment(1);
    metrics::histogram!("armory_store_batch_size").record(size as f64);
    metrics::histogram!("armory_store_commit_seconds").record(started.elapsed().as_secs_f64());
    tracing::debug!(batch_size = size, elapsed = ?started.elapsed(), "store batch done");

    for (request, outcome) in batch.into_iter().zip(outcomes) {
        let label = match &outcome {
            Ok(_) => "committed",
            Err(StoreError::Duplicate { .. }) => "duplicate",
            Err(StoreError::Conflict { .. }) => "conflict",
            Err(_) => "failed",
        };
        metrics::counter!("armory_store_requests_total", "outcome" => label).increment(1);

        // A caller that gave up has its answer in the trail anyway.
        if request.reply.send(outcome).is_err() {
            tracing::debug!("store reply dropped: caller is gone");
        }
    }
}

/// Writes every request of the batch, each in its own savepoint, and
/// commits. Per-request refusals are in the returned outcomes; an `Err`
/// means nothing of the batch is stored.
fn write_batch(
    conn: &mut Connection,
    zones: &mut Zones,
    batch: &[Pending],
) -> Result<Vec<Result<i64, StoreError>>, DbError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("starting a store batch")?;
    let mut outcomes = Vec::with_capacity(batch.len());

    for request in batch {
        let savepoint = tx.savepoint().context("starting a savepoint")?;
        match write_one(&savepoint, zones, request) {
            Ok(seq) => {
                savepoint.commit().context("releasing a savepoint")?;
                outcomes.push(Ok(seq));
            }
            Err(RequestFailure::Refused(refusal)) => {
                // Dropping the savepoint rolls it back.
                drop(savepoint);

                // Redeliveries are routine under QoS 1; a conflict is not.
                if let StoreError::Duplicate { event_id } = &refusal {
                    tracing::debug!(%event_id, "redelivered event not written again");
                } else {
                    tracing::warn!(
                        locker = %request.entry.locker,
                        reason = %refusal,
                        "store refused a request"
                    );
                }
                outcomes.push(Err(refusal));
            }
            Err(RequestFailure::Database(error)) => return Err(error),
        }
    }

    tx.commit().context("committing a store batch")?;
    Ok(outcomes)
}

/// One request: refuse a repeated event, apply the weapon change, append
/// the audit row.
fn write_one(
    conn: &Connection,
    zones: &mut Zones,
    request: &Pending,
) -> Result<i64, RequestFailure> {
    if let Some(event_id) = request.entry.event_id {
        if has_event(conn, event_id)? {
            return Err(RequestFailure::Refused(StoreError::Duplicate { event_id }));
        }
    }
    if let Some(change) = &request.change {
        apply_change(conn, change)?;
    }
    let zone = zones.of(conn, &request.entry.site)?;
    let local = local_time(request.entry.at, &zone);
    Ok(append(conn, &request.entry, &local)?)
}

/// The time zones of sites, looked up once each.
#[derive(Default)]
struct Zones {
    by_site: HashMap<SiteId, TimeZone>,
}

impl Zones {
    /// The site's zone. A site the store does not know, or whose zone does
    /// not resolve, still gets its row (every attempt is audited), with the
    /// local time shown in UTC.
    fn of(&mut self, conn: &Connection, site: &SiteId) -> Result<TimeZone, DbError> {
        if let Some(zone) = self.by_site.get(site) {
            return Ok(zone.clone());
        }
        let name: Option<String> = conn
            .query_row(
                "SELECT timezone FROM sites WHERE site_id = ?1",
                [site.as_str()],
                |row| row.get(0),
            )
            .optional()
            .context("reading the site's time zone")?;
        let zone = match name.as_deref().map(TimeZone::get) {
            Some(Ok(zone)) => zone,
            Some(Err(error)) => {
                tracing::error!(%site, %error, "site time zone unknown; local times in UTC");
                TimeZone::UTC
            }
            None if site.as_str() == super::SERVICE_LOCATION => TimeZone::UTC,
            None => {
                tracing::error!(%site, "audit row for an unknown site; local time in UTC");
                TimeZone::UTC
            }
        };

        // Unknown sites are not cached: seeding may add them later.
        if name.is_some() {
            self.by_site.insert(site.clone(), zone.clone());
        }
        Ok(zone)
    }
}
