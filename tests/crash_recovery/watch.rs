//! An observer that rides out a broker going away: it reconnects with a
//! short, capped backoff and subscribes again after every ConnAck (the
//! embedded broker forgets sessions when the service dies), and counts
//! what it saw across connections.
//!
//! It watches the unlock commands to every compartment and the activity
//! stream. Commands and activities are told apart by their ids, so a QoS 1
//! redelivery is counted once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;

use crate::harness::{OBSERVER_PASSWORD, OBSERVER_USER};

/// Unlock commands to any compartment of any locker.
pub const UNLOCKS: &str = "armory/v1/+/+/command/compartment/+";

/// Every locker's activity stream.
pub const ACTIVITY: &str = "armory/v1/+/+/activity";

/// Longest wait between reconnection attempts; short, so that the
/// observer is back before the lockers and misses no command.
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// What the observer has seen so far.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Transactions of the unlock commands seen.
    pub unlocks: BTreeSet<String>,
    /// Transactions of `signed_out` activities seen.
    pub signed_out: BTreeSet<String>,
    /// ConnAcks received (1 + reconnections).
    pub connections: usize,
    /// SubAcks received, one per subscription request.
    pub subscriptions: usize,
}

/// A running observer.
pub struct Watch {
    seen: Arc<Mutex<Seen>>,
    changed: watch::Receiver<u64>,
    client: AsyncClient,
}

impl Watch {
    /// Connects to `broker` and waits until it is subscribed.
    pub async fn start(broker: SocketAddr, patience: Duration) -> Watch {
        let mut options = MqttOptions::new(
            "crash-recovery-observer",
            broker.ip().to_string(),
            broker.port(),
        );
        options.set_credentials(OBSERVER_USER, OBSERVER_PASSWORD);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(64 * 1024, 64 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (tell, changed) = watch::channel(0u64);

        let (record, subscriber) = (Arc::clone(&seen), client.clone());
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(10);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff = Duration::from_millis(10);
                        lock(&record).connections += 1;
                        for filter in [UNLOCKS, ACTIVITY] {
                            let _ = subscriber.try_subscribe(filter, QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        lock(&record).subscriptions += 1;
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        note(&mut lock(&record), &publish.topic, &publish.payload);
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
                    Ok(_) => continue,
                    // The broker is gone (the service was killed): try
                    // again soon, for as long as the test runs.
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                tell.send_modify(|count| *count += 1);
            }
        });

        let watch = Watch {
            seen,
            changed,
            client,
        };
        watch
            .wait_until("the observer subscribed", patience, |seen| {
                seen.subscriptions >= 2
            })
            .await;
        watch
    }

    /// A copy of what was seen so far.
    pub fn seen(&self) -> Seen {
        lock(&self.seen).clone()
    }

    /// Waits until `ready` holds, or fails the test after `patience`.
    pub async fn wait_until(&self, what: &str, patience: Duration, ready: impl Fn(&Seen) -> bool) {
        let mut changed = self.changed.clone();
        let waited = tokio::time::timeout(patience, async {
            while !ready(&self.seen()) {
                if changed.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok() && ready(&self.seen()),
            "timed out after {patience:?} waiting for {what}; seen {:?}",
            self.seen()
        );
    }

    /// Disconnects cleanly.
    pub async fn stop(&self) {
        let _ = self.client.disconnect().await;
    }
}

/// Records one message: an unlock command, or a `signed_out` activity.
fn note(seen: &mut Seen, topic: &str, payload: &[u8]) {
    let json: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let transaction = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    if topic.contains("/command/compartment/") && json["body"]["type"] == "unlock" {
        seen.unlocks
            .extend(transaction(&json["body"]["transaction"]));
    } else if topic.ends_with("/activity") && json["kind"] == "signed_out" {
        seen.signed_out.extend(transaction(&json["transaction"]));
    }
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    // Only counters and sets; a panic elsewhere leaves them consistent.
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
