//! The `armory` command. Each subcommand lives in its own module under
//! `armory::cli`; this file only parses and dispatches.

use anyhow::Context as _;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = armory::cli::Cli::parse();
    armory::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(armory::cli::run(cli.command))
}
