//! The one place the tracing subscriber is set up.
//!
//! `RUST_LOG` chooses what is shown (default: `info` for the armory,
//! `warn` for the libraries underneath, whose own `info` lines are noise to
//! an operator).

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; a second call is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,armory=info,armory_actors=info,armory_device_sim=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .compact()
        .try_init();
}
