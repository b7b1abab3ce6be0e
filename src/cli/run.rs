//! `armory serve` and `armory demo`.

use std::path::Path;

use armory_actors::clock::Clock;

use crate::config::Config;
use crate::serve::Service;

/// Runs the service until Ctrl-C or until the broker fails.
pub async fn serve(config: &Path) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let mut service = Service::start(&config, Clock::system()).await?;
    tokio::select! {
        error = service.broker_failed() => return Err(error),
        _ = tokio::signal::ctrl_c() => {}
    }
    service.stop().await;
    Ok(())
}

/// Runs the demo; see [`crate::demo`].
pub async fn demo(
    config: &Path,
    sign_outs: usize,
    concurrency: usize,
    exit: bool,
) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    crate::demo::run(&config, sign_outs, concurrency, exit).await
}
