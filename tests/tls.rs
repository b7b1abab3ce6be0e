//! End to end over TLS: a throwaway CA signs the broker's certificate, the
//! simulated lockers connect to the TLS listener trusting only that CA, and
//! a sign-out works. A plain MQTT client on the TLS port, and a TLS client
//! without credentials, get no CONNACK.
//!
//! Built with `--features client-certs`, the listener also requires a
//! client certificate from the same CA: the lockers present one, and a
//! client with the right login but no certificate is refused.

#[path = "support/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use armory::serve::Service;
use armory_actors::domain::LockerId;
use armory_actors::protocol::AccessRequest;
use armory_device_sim::{SimConfig, SimTls, Simulator};
use harness::{Observer, TestArmory};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, TlsConfiguration, Transport};

/// A throwaway CA and what it signed, as PEM.
struct Pki {
    ca: String,
    server: String,
    server_key: String,
    client: String,
    client_key: String,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate,
/// both signed by the CA.
fn throwaway_pki() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let server_key = KeyPair::generate().expect("server key");
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server params");
    let server = server_params
        .signed_by(&server_key, &ca, &ca_key)
        .expect("server certificate");

    let client_key = KeyPair::generate().expect("client key");
    let client_params = CertificateParams::new(vec!["lockers".to_owned()]).expect("params");
    let client = client_params
        .signed_by(&client_key, &ca, &ca_key)
        .expect("client certificate");
    Pki {
        ca: ca.pem(),
        server: server.pem(),
        server_key: server_key.serialize_pem(),
        client: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

fn write_owner_only(path: &Path, text: &str) {
    std::fs::write(path, text).expect("written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let owner_only = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(path, owner_only).expect("chmod");
    }
}

/// Whether a client gets a CONNACK.
async fn logs_in(options: MqttOptions) -> bool {
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    let first = tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
        .await
        .expect("the broker answers or hangs up within 10 s");
    matches!(first, Ok(Event::Incoming(Packet::ConnAck(_))))
}

fn options(broker: SocketAddr, id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockers_sign_out_over_tls_and_plain_mqtt_on_the_tls_port_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = throwaway_pki();
    let ca_pem = pki.ca.clone();
    let tls_dir = tempfile::tempdir().expect("temp dir");
    let cert = tls_dir.path().join("server.pem");
    let key = tls_dir.path().join("server.key");
    let ca = tls_dir.path().join("ca.pem");
    std::fs::write(&cert, &pki.server).expect("written");
    std::fs::write(&ca, &pki.ca).expect("written");
    write_owner_only(&key, &pki.server_key);

    let mut extra = format!(
        "[broker.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let client_certs = cfg!(feature = "client-certs");
    let identity = (pki.client.into_bytes(), pki.client_key.into_bytes());
    if client_certs {
        extra.push_str(&format!("client_ca = \"{}\"\n", ca.display()));
    }
    let config = harness::test_config_with(&dir.path().join("state"), &extra);
    let clock = armory_actors::clock::Clock::manual(harness::DATA_NOW.parse().expect("instant"));
    let service = Service::start(&config, clock.clone())
        .await
        .expect("service starts");
    let tls_address = service.broker_tls_address().expect("a TLS listener");
    let observer = Observer::start(service.broker_address(), "test-observer", "armory/#").await;

    // Every locker connects over TLS, trusting only the throwaway CA.
    let agency = armory_actors::import::AgencyData::load_dir(&harness::demo_data_dir())
        .expect("demo data imports");
    let mut sim_config = SimConfig::new(tls_address, service.fleet_secret().clone(), agency);
    sim_config.tls = Some(SimTls {
        ca_pem: ca_pem.clone().into_bytes(),
        client: client_certs.then(|| identity.clone()),
    });
    sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
    sim_config.clock = clock.clone();
    let sim = Simulator::start(sim_config)
        .await
        .expect("lockers connect over TLS");
    let armory = TestArmory {
        dir,
        service,
        sim,
        observer,
        clock,
        agency: armory_actors::import::AgencyData::load_dir(&harness::demo_data_dir())
            .expect("demo data imports"),
    };

    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L1"),
            &TestArmory::reader("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(outcome.granted(), "{:?}", outcome.answer);
    armory.wait_activity("signed_out", 1).await;

    // Plain MQTT on the TLS port: the handshake fails, no CONNACK.
    let mut plain = options(tls_address, "plain-client");
    plain.set_credentials(harness::OBSERVER_USER, harness::OBSERVER_PASSWORD);
    assert!(!logs_in(plain).await, "plain MQTT on the TLS port");

    // TLS with the right CA but no credentials: refused as on plain TCP.
    let mut anonymous = options(tls_address, "tls-anonymous");
    anonymous.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
        ca: ca_pem.clone().into_bytes(),
        alpn: None,
        client_auth: client_certs.then(|| identity.clone()),
    }));
    assert!(!logs_in(anonymous.clone()).await, "TLS without credentials");
    anonymous.set_credentials(harness::OBSERVER_USER, harness::OBSERVER_PASSWORD);
    assert!(logs_in(anonymous).await, "TLS with credentials");

    // With client certificates required, a good login without one fails.
    if client_certs {
        let mut no_certificate = options(tls_address, "tls-no-certificate");
        no_certificate.set_credentials(harness::OBSERVER_USER, harness::OBSERVER_PASSWORD);
        no_certificate.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca: ca_pem.clone().into_bytes(),
            alpn: None,
            client_auth: None,
        }));
        assert!(!logs_in(no_certificate).await, "TLS without a certificate");
    }

    armory.stop().await;
}
