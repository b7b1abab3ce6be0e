//! The `armory` command. Each subcommand lives in its own module under
//! `armory::cli`; this file only parses, dispatches and reports.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

fn main() -> ExitCode {
    let cli = armory::cli::Cli::parse();
    armory::logging::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The chain of causes without a backtrace: an operator needs the
            // what and where, not our stack.
            eprintln!("error: {}", armory::cli::error_text(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: armory::cli::Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(armory::cli::run(cli.command))
}
