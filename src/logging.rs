//! The one place the tracing subscriber is set up.
//!
//! `RUST_LOG` chooses what is shown (default: [`DEFAULT_FILTER`]). Colours
//! only when standard error is a terminal, so a log sent to a file or a
//! journal holds plain text that grep and log shippers read as it is.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// What is shown without `RUST_LOG`. rumqttd logs every client disconnect
/// as an error; `RUST_LOG=rumqttd=info` brings its lines back when the
/// broker itself needs looking at.
pub const DEFAULT_FILTER: &str =
    "warn,rumqttd=off,armory=info,armory_actors=info,armory_device_sim=info";

/// Installs the subscriber; a second call is a no-op.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .compact()
        .try_init();
}
