//! The embedded MQTT broker (rumqttd).
//!
//! rumqttd's own `Broker::start` never returns and only logs a port that is
//! already taken, so this module spawns the router and the MQTT 3.1.1
//! listeners itself: a bind failure is a start-up error with the address in
//! it, and a listener that dies later is reported through
//! [`EmbeddedBroker::wait_failed`]. The router's settings are kept small
//! (see the field notes on its per-filter logs).
//!
//! Every listener checks logins with [`auth::BrokerAuth`]; an anonymous
//! client gets no CONNACK. A second, TLS listener is optional
//! ([`tls::TlsSettings`]); its files are checked before it starts.
//!
//! Limitations: rumqttd has no shutdown, so the router thread lives until
//! the process ends; a service stopped in-process (tests) leaves it idle.
//! rumqttd runs each TLS handshake inside its accept loop with no time
//! limit, so a client that opens a TLS connection and stalls holds up new
//! connections on that listener until it goes away.

pub mod auth;
pub mod tls;

use std::net::{SocketAddr, TcpListener};

use rumqttd::protocol::v4::V4;
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use tokio::task::JoinSet;

use auth::BrokerAuth;
use tls::TlsSettings;

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
    /// The TLS files are missing, unreadable or not what they claim.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
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
    /// Address of the plain listener; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Most concurrent client connections.
    pub max_connections: usize,
    /// Who may log in, on every listener.
    pub auth: BrokerAuth,
    /// The TLS listener, if any.
    pub tls: Option<TlsSettings>,
}

/// How many retained messages a QoS 0 subscriber is sent when it
/// subscribes. rumqttd cuts the replay to this count (it is also the most
/// it reads for such a subscriber at once), so it must exceed what the
/// armory retains (a state topic per locker, compartment and weapon: about
/// 2,000 for the demo agency), or `mosquitto_sub -t 'armory/#'` shows a
/// dashboard only part of the armory. A QoS 1 subscriber gets at most 100
/// whatever this says (rumqttd's fixed in-flight window): dashboards
/// subscribe at QoS 0, or per locker.
pub const RETAINED_REPLAY_LIMIT: u64 = 20_000;

/// A running embedded broker.
pub struct EmbeddedBroker {
    address: SocketAddr,
    tls_address: Option<SocketAddr>,
    /// Each listener's task ends with its address and why it stopped.
    listeners: JoinSet<(SocketAddr, String)>,
}

impl EmbeddedBroker {
    /// Starts the router and the listeners; fails if an address is taken
    /// or the TLS files do not serve.
    pub async fn start(settings: &BrokerSettings) -> Result<EmbeddedBroker, BrokerError> {
        let address = claim_address(settings.listen)?;
        let tls = match &settings.tls {
            Some(tls) => Some((claim_address(tls.listen)?, tls.rumqttd_config()?)),
            None => None,
        };

        let router_config = RouterConfig {
            max_connections: settings.max_connections,
            max_outgoing_packet_count: RETAINED_REPLAY_LIMIT,
            max_segment_size: 256 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        };
        let router_tx = Router::new(0, router_config).spawn();

        let mut listeners = JoinSet::new();
        let mut addresses = vec![address];
        let plain = server_settings(address, None, &settings.auth);
        spawn_listener(
            &mut listeners,
            address,
            Server::new(plain, router_tx.clone(), V4),
        );
        let tls_address = tls.map(|(tls_address, config)| {
            let secure = server_settings(tls_address, Some(config), &settings.auth);
            let server = Server::new(secure, router_tx.clone(), V4);
            spawn_listener(&mut listeners, tls_address, server);
            addresses.push(tls_address);
            tls_address
        });

        let mut broker = EmbeddedBroker {
            address,
            tls_address,
            listeners,
        };
        for listening in addresses {
            broker.wait_listening(listening).await?;
        }
        tracing::info!(%address, tls = ?tls_address, "embedded MQTT broker listening");
        Ok(broker)
    }

    /// Waits until a listener accepts connections, or reports why not.
    async fn wait_listening(&mut self, address: SocketAddr) -> Result<(), BrokerError> {
        for _ in 0..200 {
            if let Some(Ok((address, detail))) = self.listeners.try_join_next() {
                return Err(BrokerError::Stopped { address, detail });
            }
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Err(BrokerError::Stopped {
            address,
            detail: "listener did not come up within one second".to_owned(),
        })
    }

    /// The address of the plain listener.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address of the TLS listener, if there is one.
    pub fn tls_address(&self) -> Option<SocketAddr> {
        self.tls_address
    }

    /// Resolves when a listener stops, with why.
    pub async fn wait_failed(&mut self) -> BrokerError {
        match self.listeners.join_next().await {
            Some(Ok((address, detail))) => BrokerError::Stopped { address, detail },
            Some(Err(join)) => BrokerError::Stopped {
                address: self.address,
                detail: join.to_string(),
            },
            None => std::future::pending().await,
        }
    }
}

/// One listener's settings; every listener checks logins.
fn server_settings(
    address: SocketAddr,
    tls: Option<rumqttd::TlsConfig>,
    auth: &BrokerAuth,
) -> ServerSettings {
    let mut settings = ServerSettings {
        name: format!("mqtt-{address}"),
        listen: address,
        tls,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 5_000,
            max_payload_size: 64 * 1024,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let auth = auth.clone();
    settings.set_auth_handler(move |client_id, user, password| {
        let auth = auth.clone();
        async move { auth.check(client_id, user, password).await }
    });
    settings
}

fn spawn_listener(
    listeners: &mut JoinSet<(SocketAddr, String)>,
    address: SocketAddr,
    mut server: Server<V4>,
) {
    listeners.spawn(async move {
        let detail = match server.start(LinkType::Remote).await {
            Ok(()) => "listener returned".to_owned(),
            Err(error) => error.to_string(),
        };
        (address, detail)
    });
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
    use armory_actors::clock::Clock;
    use armory_actors::protocol::FleetSecret;

    use super::*;

    fn settings(listen: SocketAddr) -> BrokerSettings {
        BrokerSettings {
            listen,
            max_connections: 10,
            auth: BrokerAuth::new(FleetSecret::generate(), Vec::new(), Clock::system()),
            tls: None,
        }
    }

    #[tokio::test]
    async fn a_taken_port_is_a_start_up_error_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("loopback bind");
        let address = taken.local_addr().expect("bound address");
        let error = EmbeddedBroker::start(&settings(address))
            .await
            .err()
            .expect("the port is taken");
        assert!(error.to_string().contains(&address.to_string()));
    }

    #[tokio::test]
    async fn port_zero_gets_a_free_port() {
        let listen = "127.0.0.1:0".parse().expect("valid address");
        let broker = EmbeddedBroker::start(&settings(listen))
            .await
            .expect("starts");
        assert_ne!(broker.address().port(), 0);
        assert_eq!(broker.tls_address(), None);
        let connected = tokio::net::TcpStream::connect(broker.address()).await;
        assert!(connected.is_ok());
    }
}
