//! Prometheus metrics: the recorder, the `/metrics` listener, and the
//! description of every metric the service emits.
//!
//! A listen address with port 0 is resolved to a free port before the
//! exporter binds it (its builder takes an address, not a bound socket), so
//! the log and [`Installed::address`] name the real port. Another program
//! could take that port in the instant between; the exporter's bind then
//! fails with [`MetricsError::Listen`] rather than serving elsewhere.
//!
//! Labels are bounded by construction: decision, reason code, weapon
//! class, event kind, rejection reason, parent kind, device kind and
//! liveness state. No badge, person,
//! weapon or transaction id is ever a label.

use std::net::SocketAddr;
use std::sync::Mutex;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Why metrics could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The exporter could not be built or bind its address.
    #[error("cannot serve metrics on {address}: {detail}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// What the exporter said.
        detail: String,
    },
}

/// The recorder this process installed, and where it serves.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Renders the metrics as Prometheus text.
    pub handle: PrometheusHandle,
    /// The address `/metrics` is served on, port 0 resolved; `None` when
    /// no endpoint was asked for.
    pub address: Option<SocketAddr>,
}

/// The recorder this process installed, if any. A mutex rather than a
/// once-cell: two services starting at once (tests) must not both build a
/// recorder and keep the handle of the one that lost.
static HANDLE: Mutex<Option<Installed>> = Mutex::new(None);

/// Installs the process-wide recorder, serving `/metrics` on `listen`.
///
/// The recorder is global to the process: a second call (a second service
/// in one test process) returns the first one and serves nothing new.
pub fn install(listen: Option<SocketAddr>) -> Result<Installed, MetricsError> {
    // Nothing below panics while the lock is held, and the slot is only
    // ever filled, so a poisoned lock still holds a good value.
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(first) = installed.as_ref() {
        return Ok(first.clone());
    }

    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ];
    let mut builder = PrometheusBuilder::new();
    builder = builder
        .set_buckets(&buckets)
        .expect("the bucket list is a constant and not empty");
    let (handle, served) = match listen {
        Some(asked) => {
            let address = resolve_port(asked)?;
            let (recorder, exporter) =
                builder
                    .with_http_listener(address)
                    .build()
                    .map_err(|error| MetricsError::Listen {
                        address,
                        detail: error.to_string(),
                    })?;
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                tokio::spawn(exporter);
                tracing::info!(%address, "metrics served at /metrics");
            }
            (handle, Some(address))
        }
        None => {
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            (handle, None)
        }
    };
    describe();
    let done = Installed {
        handle,
        address: served,
    };
    *installed = Some(done.clone());
    Ok(done)
}

/// `address` itself, or with port 0 replaced by a port free right now.
fn resolve_port(address: SocketAddr) -> Result<SocketAddr, MetricsError> {
    if address.port() != 0 {
        return Ok(address);
    }
    let failed = |error: std::io::Error| MetricsError::Listen {
        address,
        detail: error.to_string(),
    };
    let probe = std::net::TcpListener::bind(address).map_err(failed)?;
    probe.local_addr().map_err(failed)
}

fn describe() {
    describe_counter!(
        "armory_store_commits_total",
        "Store transactions committed."
    );
    describe_counter!(
        "armory_store_requests_total",
        "Store requests by outcome: committed, duplicate, conflict, failed."
    );
    describe_histogram!(
        "armory_store_batch_size",
        "Requests committed together in one store transaction (group commit)."
    );
    describe_histogram!(
        "armory_store_commit_seconds",
        Unit::Seconds,
        "Time to commit one store transaction, fsync included."
    );
    describe_counter!(
        "armory_access_decisions_total",
        "Access attempts at readers, by decision, reason code and weapon class."
    );
    describe_histogram!(
        "armory_access_decision_seconds",
        Unit::Seconds,
        "Time from a scan reaching its reader actor to the decision being durable and sent."
    );
    describe_counter!("armory_sign_outs_total", "Weapons signed out, by class.");
    describe_counter!("armory_returns_total", "Weapons returned, by class.");
    describe_counter!(
        "armory_unlock_commands_total",
        "Signed unlock commands sent."
    );
    describe_counter!(
        "armory_unlocks_expired_total",
        "Granted unlocks whose door never opened within the unlock window."
    );
    describe_counter!(
        "armory_device_events_total",
        "Authenticated device events, by kind."
    );
    describe_counter!(
        "armory_device_events_rejected_total",
        "Device events refused before reaching an actor, by reason."
    );
    describe_counter!(
        "armory_state_corrections_total",
        "State messages another client published on the service's topics, \
         answered by publishing the store's state again."
    );
    describe_counter!(
        "armory_device_events_duplicate_total",
        "Device events seen before (QoS 1 redelivery) and ignored."
    );
    describe_counter!("armory_anomalies_total", "Anomalies recorded, by reason.");
    describe_counter!(
        "armory_actor_failures_total",
        "Actor failures, by parent kind."
    );
    describe_counter!(
        "armory_actor_restarts_total",
        "Failed reader or compartment actors restarted by their locker, by kind."
    );
    describe_counter!(
        "armory_actor_isolations_total",
        "Actors isolated after failing past the restart budget (or a weapon actor at its \
         first failure), by kind; isolated until a supervisor acknowledges the locker."
    );
    describe_gauge!(
        "armory_devices",
        "Devices by kind (controller, reader) and liveness state: unknown until first heard \
         (a reader also after its controller went away), online, offline past the heartbeat \
         timeout or after the controller's last will, faulted while a reader is isolated."
    );
    describe_counter!(
        "armory_bus_dropped_total",
        "State or activity messages dropped because the publish queue was full."
    );
    describe_counter!(
        "armory_mqtt_published_total",
        "Messages handed to the MQTT client."
    );
    describe_counter!(
        "armory_broker_logins_total",
        "Logins to the embedded broker, by identity kind (locker, service, user) and outcome."
    );
    describe_counter!(
        "armory_mqtt_connection_errors_total",
        "MQTT connection errors of the service's client."
    );
    describe_gauge!(
        "armory_audit_chain_intact",
        "1 if the audit trail's hash chain verified at the last start, 0 if it is broken \
         (altered); the service serves on and raises the alert audit_chain_broken."
    );
    describe_counter!(
        "armory_alerts_total",
        "Alerts raised to the people on duty, by kind."
    );
}
