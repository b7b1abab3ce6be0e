//! The embedded MQTT broker (rumqttd).
//!
//! rumqttd's own `Broker::start` never returns and only logs a port that is
//! already taken, so this module spawns the router and one MQTT 3.1.1
//! listener itself: a bind failure is a start-up error with the address in
//! it, and a listener that dies later is reported through
//! [`EmbeddedBroker::wait_failed`]. The router's settings are kept small
//! (see the field notes on its per-filter logs).
//!
//! Limitation: rumqttd has no shutdown, so the router thread lives until the
//! process ends; a service stopped in-process (tests) leaves it idle.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use rumqttd::protocol::v4::V4;
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use tokio::task::JoinHandle;

/// Why the broker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address is taken or not ours to bind.
    #[error("cannot listen for MQTT on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// The listener stopped after start-up.
    #[error("MQTT listener on {address} stopped: {detail}")]
    Stopped {
        /// Its address.
        address: SocketAddr,
        /// What rumqttd said.
        detail: String,
    },
}

/// Settings of the embedded broker.
#[derive(Clone, Debug)]
pub struct BrokerSettings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Most concurrent client connections.
    pub max_connections: usize,
}

/// A running embedded broker.
pub struct EmbeddedBroker {
    address: SocketAddr,
    listener: JoinHandle<Result<(), String>>,
}

impl EmbeddedBroker {
    /// Starts the router and the listener; fails if the address is taken.
    pub async fn start(settings: &BrokerSettings) -> Result<EmbeddedBroker, BrokerError> {
        let address = claim_address(settings.listen)?;

        let router_config = RouterConfig {
            max_connections: settings.max_connections,
            max_outgoing_packet_count: 200,
            max_segment_size: 256 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        };
        let router_tx = Router::new(0, router_config).spawn();

        let server_settings = ServerSettings {
            name: format!("mqtt-{address}"),
            listen: address,
            tls: None,
            next_connection_delay_ms: 1,
            connections: ConnectionSettings {
                connection_timeout_ms: 5_000,
                max_payload_size: 64 * 1024,
                max_inflight_count: 200,
                auth: None::<HashMap<String, String>>,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let mut server = Server::new(server_settings, router_tx, V4);
        let listener = tokio::spawn(async move {
            server
                .start(LinkType::Remote)
                .await
                .map_err(|error| error.to_string())
        });

        let mut broker = EmbeddedBroker { address, listener };
        broker.wait_listening().await?;
        tracing::info!(%address, "embedded MQTT broker listening");
        Ok(broker)
    }

    /// Waits until the listener accepts connections, or reports why not.
    async fn wait_listening(&mut self) -> Result<(), BrokerError> {
        for _ in 0..200 {
            if self.listener.is_finished() {
                return Err(self.wait_failed().await);
            }
            if tokio::net::TcpStream::connect(self.address).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Err(BrokerError::Stopped {
            address: self.address,
            detail: "listener did not come up within one second".to_owned(),
        })
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Resolves when the listener stops, with why.
    pub async fn wait_failed(&mut self) -> BrokerError {
        let detail = match (&mut self.listener).await {
            Ok(Ok(())) => "listener returned".to_owned(),
            Ok(Err(detail)) => detail,
            Err(join) => join.to_string(),
        };
        BrokerError::Stopped {
            address: self.address,
            detail,
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Checks that the address can be bound and turns port 0 into a free port.
///
/// rumqttd binds by itself and never reports the port it got, so the
/// service binds first, reads the port, and hands the address over. The
/// short window between the two binds is the price of a clear error.
fn claim_address(wanted: SocketAddr) -> Result<SocketAddr, BrokerError> {
    let probe = TcpListener::bind(wanted).map_err(|source| BrokerError::Bind {
        address: wanted,
        source,
    })?;
    probe.local_addr().map_err(|source| BrokerError::Bind {
        address: wanted,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_a_start_up_error_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("loopback bind");
        let address = taken.local_addr().expect("bound address");
        let settings = BrokerSettings {
            listen: address,
            max_connections: 10,
        };
        let error = EmbeddedBroker::start(&settings)
            .await
            .err()
            .expect("the port is taken");
        assert!(error.to_string().contains(&address.to_string()));
    }

    #[tokio::test]
    async fn port_zero_gets_a_free_port() {
        let settings = BrokerSettings {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            max_connections: 10,
        };
        let broker = EmbeddedBroker::start(&settings).await.expect("starts");
        assert_ne!(broker.address().port(), 0);
        let connected = tokio::net::TcpStream::connect(broker.address()).await;
        assert!(connected.is_ok());
    }
}
