//! How a simulated controller reaches the broker: its login, and TLS.
//!
//! Every controller logs in as `locker-{LOCKER_ID}`, the same as its
//! client id, with the password its locker key derives, as a provisioned
//! controller does. With [`SimTls`] it connects over TLS, trusting only the
//! given CA, and can present a client certificate. The server certificate
//! must name the broker's IP address, since that is what the simulator
//! dials. rustls runs on the `ring` provider, installed once per process.

use std::net::SocketAddr;
use std::time::Duration;

use armory_actors::domain::LockerId;
use armory_actors::protocol::LockerKey;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// TLS for the simulator's connections.
#[derive(Clone)]
pub struct SimTls {
    /// The CA that signed the broker's certificate, PEM.
    pub ca_pem: Vec<u8>,
    /// A client certificate chain and its private key, PEM, for brokers
    /// that require one.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for SimTls {
    /// Sizes only; the client key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("ca_pem_bytes", &self.ca_pem.len())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

/// The MQTT options of one controller: client id, login, transport.
pub(crate) fn options(
    broker: SocketAddr,
    locker: &LockerId,
    key: &LockerKey,
    tls: Option<&SimTls>,
    keep_alive: Duration,
) -> MqttOptions {
    let identity = format!("locker-{locker}");
    let mut options = MqttOptions::new(identity.clone(), broker.ip().to_string(), broker.port());
    options.set_keep_alive(keep_alive);
    options.set_clean_session(true);
    options.set_credentials(identity, key.mqtt_password());
    if let Some(tls) = tls {
        install_ring_provider();
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca: tls.ca_pem.clone(),
            alpn: None,
            client_auth: tls.client.clone(),
        }));
    }
    options
}

/// Makes `ring` the process's rustls provider, unless one is set already.
fn install_ring_provider() {
    // An Err only says a provider was installed before, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
