//! The audit trail's hash chain, checked at every start.
//!
//! A service that appended to a broken trail without a word would bury the
//! tampering under fresh rows. Refusing to start would be worse: every
//! officer would be locked out of the weapons. So a broken chain is
//! reported loudly and the service serves on: an error in the log naming
//! the first bad row, the gauge `armory_audit_chain_intact` at 0, a
//! critical `audit_chain_broken` alert on the service's own alert topic
//! (`armory/v1/service/service/alert`), and a row in the trail itself.
//!
//! The check is [`Database::verify_audit`], the same as `armory audit
//! verify`: one SHA-256 per row, read in one pass before the store writer
//! starts. On the freshly seeded demo store it takes well under a
//! millisecond. It grows linearly with the trail: a million rows took
//! about 3 s in a release build on a two-core machine (18 s in a debug
//! build), and the start waits for it, with the actors not yet running,
//! so lockers refuse scans meanwhile. A trail of tens of millions of rows
//! would make starts slow enough to matter; checking only the rows added
//! since a verified checkpoint would then be the way, and is not done yet.

use std::time::Instant;

use armory_actors::clock::Clock;
use armory_actors::ports::{AuditAction, Store};
use armory_actors::protocol::{AlertPayload, Severity, Topic, SCHEMA_VERSION};

use crate::mqtt::MqttLink;
use crate::store::{service_audit_entry, Database, DbError, SERVICE_LOCATION};

/// The alert kind raised when the chain does not check out.
pub const AUDIT_CHAIN_BROKEN: &str = "audit_chain_broken";

/// What the start-up check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every row checks out.
    Intact {
        /// Rows checked.
        rows: u64,
    },
    /// The first row that does not check out.
    Broken {
        /// Its position in the trail.
        seq: i64,
        /// Which check failed.
        detail: String,
    },
}

/// Verifies the whole chain, logs the outcome and sets the gauge. Only a
/// store that cannot be read fails; a broken chain is an outcome.
pub fn verify(database: &Database) -> Result<ChainCheck, DbError> {
    let started = Instant::now();
    let check = match database.verify_audit() {
        Ok(rows) => ChainCheck::Intact { rows },
        Err(DbError::AuditBreak { seq, detail }) => ChainCheck::Broken { seq, detail },
        Err(error) => return Err(error),
    };
    let elapsed = started.elapsed();

    match &check {
        ChainCheck::Intact { rows } => {
            metrics::gauge!("armory_audit_chain_intact").set(1.0);
            tracing::info!(rows, ?elapsed, "audit trail verified: chain intact");
        }
        ChainCheck::Broken { seq, detail } => {
            metrics::gauge!("armory_audit_chain_intact").set(0.0);
            tracing::error!(
                row = seq,
                %detail,
                store = %database.path().display(),
                ?elapsed,
                "audit trail broken: serving on, but the trail has been altered; \
                 run armory audit verify and export it as evidence"
            );
        }
    }
    Ok(check)
}

/// Records a broken chain in the trail and raises the critical alert.
/// A store failure here is logged: the log line and gauge already stand.
pub async fn report_broken(store: &Store, link: &MqttLink, clock: &Clock, seq: i64, detail: &str) {
    let at = clock.now();
    let reason = format!("{AUDIT_CHAIN_BROKEN}: row {seq}: {detail}");
    let entry = service_audit_entry(AuditAction::Anomaly, &reason, None, at);
    if let Err(error) = store.commit(entry, None).await {
        tracing::error!(row = seq, %error, "broken audit chain not recorded in the trail");
    }

    let alert = AlertPayload {
        v: SCHEMA_VERSION,
        kind: AUDIT_CHAIN_BROKEN.to_owned(),
        severity: Severity::Critical,
        site: SERVICE_LOCATION.into(),
        locker: SERVICE_LOCATION.into(),
        reader: None,
        badge: None,
        asset_tag: None,
        compartment: None,
        message: format!(
            "The audit trail does not verify from row {seq} ({detail}); it may have been \
             altered. Access continues; export the trail and inform the armory's supervisor."
        ),
        at,
    };
    let topic = Topic::Alert {
        site: SERVICE_LOCATION.into(),
        locker: SERVICE_LOCATION.into(),
    };
    let payload = serde_json::to_vec(&alert).expect("the alert payload is plain data");
    link.publish_now(&topic.name(), payload, false).await;
    metrics::counter!("armory_alerts_total", "kind" => AUDIT_CHAIN_BROKEN).increment(1);
    tracing::warn!(kind = AUDIT_CHAIN_BROKEN, row = seq, "alert raised");
}
