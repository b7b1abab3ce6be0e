//! What a service checks and reports as it starts:
//!
//! - one service per state folder: a second start on a folder in use
//!   fails with a message naming it, whatever its ports, and succeeds once
//!   the first has stopped; the read-only commands still run beside it;
//! - a `/metrics` listener asked for on port 0 reports the port it got.
//!
//! Every service here serves metrics on port 0: the recorder is global to
//! the test process, and whichever test starts first installs it.

#[path = "support/harness.rs"]
mod harness;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use armory::config::Config;
use armory::serve::Service;
use armory_actors::clock::Clock;
use jiff::Timestamp;

fn clock() -> Clock {
    let now: Timestamp = harness::DATA_NOW.parse().expect("valid instant");
    Clock::manual(now)
}

/// The test configuration with `/metrics` on port 0, state in `state_dir`.
fn config(state_dir: &Path) -> Config {
    let settings = harness::TestSettings {
        metrics_listen: Some("127.0.0.1:0".to_owned()),
        ..harness::TestSettings::default()
    };
    let text = harness::config_text(state_dir, &settings);
    Config::from_str_at(&text, state_dir).expect("test configuration is valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_on_a_state_folder_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let config = config(&state);
    let first = Service::start(&config, clock())
        .await
        .expect("the first service starts");

    // Other ports, same folder: refused before its broker binds.
    let refused = Service::start(&config, clock())
        .await
        .err()
        .expect("a second service on the same folder is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("another armory service")
            && message.contains(&state.display().to_string()),
        "{message}"
    );
    let fleet = armory::serve::load_fleet_secret(&config, &clock()).expect("keys load");
    let settings = armory::serve::broker_settings(&config, &fleet, &clock());
    let broker = armory::broker::EmbeddedBroker::start(&settings)
        .await
        .expect("a broker starts");
    let refused = Service::start_on(&config, clock(), broker)
        .await
        .err()
        .expect("nor on a broker of its own");
    assert!(format!("{refused:#}").contains("another armory service"));

    // The inspector's read-only commands run beside the live service.
    let config_file = dir.path().join("armory.toml");
    let settings = harness::TestSettings::default();
    std::fs::write(&config_file, harness::config_text(&state, &settings)).expect("written");
    let verified = Command::new(env!("CARGO_BIN_EXE_armory"))
        .args(["audit", "verify", "--config"])
        .arg(&config_file)
        .output()
        .expect("armory runs");
    assert!(verified.status.success(), "{verified:?}");

    // Once the first has stopped, the folder is free again.
    first.stop().await;
    let again = Service::start(&config, clock())
        .await
        .expect("a service starts once the first has stopped");
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_asked_for_on_port_0_report_the_port_they_got() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = Service::start(&config(&dir.path().join("state")), clock())
        .await
        .expect("service starts");

    let address = service
        .metrics_address()
        .expect("metrics are served when enabled");
    assert_ne!(address.port(), 0, "port 0 is resolved");
    let mut stream = TcpStream::connect(address).expect("the metrics listener answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("armory_"), "{response}");

    service.stop().await;
}
