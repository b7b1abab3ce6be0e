//! A rumqttd broker for one test, on a free loopback port.
//!
//! rumqttd binds its own listener and never says which port it got, so
//! the test asks the OS for a free port, hands it over, and starts again
//! on another one in the rare case that someone took it in between.
//! rumqttd cannot be stopped: its router thread idles until the test
//! process ends.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use rumqttd::protocol::v4::V4;
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};

/// Starts a broker and returns its address once it accepts connections.
pub async fn start_broker() -> SocketAddr {
    let router = Router::new(
        0,
        RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 256 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
    )
    .spawn();

    for _ in 0..5 {
        let address = free_address();
        let settings = ServerSettings {
            name: "test".to_owned(),
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
        let mut server = Server::new(settings, router.clone(), V4);
        let listener = tokio::spawn(async move { server.start(LinkType::Remote).await });

        // Binding is the listener's first step: either it fails and the
        // task ends, or connections to the port start to succeed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the broker did not listen on {address} within ten seconds"
            );
            if listener.is_finished() {
                break;
            }
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                tokio::task::yield_now().await;
                if !listener.is_finished() {
                    return address;
                }
            }
            tokio::task::yield_now().await;
        }
    }
    panic!("no free loopback port for the broker after five tries");
}

fn free_address() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|error| panic!("cannot bind loopback: {error}"));
    probe
        .local_addr()
        .unwrap_or_else(|error| panic!("bound socket has an address: {error}"))
}
