//! A TCP relay between the simulator and the broker that a test can cut.
//!
//! Cutting drops both sockets of every relayed connection at once, with no
//! MQTT DISCONNECT: the broker sees its client vanish, as after a power cut
//! or a pulled cable, and the client sees its connection fail. The relay
//! keeps listening, so the client can connect again through it.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running relay.
pub struct Proxy {
    address: SocketAddr,
    cuts: watch::Sender<u64>,
    accepted: watch::Receiver<usize>,
}

impl Proxy {
    /// Relays a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("cannot bind loopback: {error}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("bound socket has an address: {error}"));
        let (cuts, _) = watch::channel(0u64);
        let (accepted_tx, accepted) = watch::channel(0usize);

        let cut_signal = cuts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                accepted_tx.send_modify(|count| *count += 1);
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, cut_signal.subscribe()));
            }
        });
        Proxy {
            address,
            cuts,
            accepted,
        }
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many connections the relay has accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.borrow()
    }

    /// Drops every connection relayed now.
    pub fn cut(&self) {
        self.cuts.send_modify(|cuts| *cuts += 1);
    }
}

/// Copies both ways until either side closes or the relay is cut; either
/// way both sockets are dropped when it returns.
async fn relay(mut client: TcpStream, mut server: TcpStream, mut cut: watch::Receiver<u64>) {
    cut.mark_unchanged();
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}
