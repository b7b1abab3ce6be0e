//! `armory pin set EMPLOYEE`: enrol or replace one person's PIN.
//!
//! The PIN is read from standard input, one line, so that it never
//! appears in the command line, the shell history or the process list. It
//! is hashed with argon2id at the configured cost and only the hash is
//! stored; the command never prints or logs the PIN. A running service
//! takes the new PIN into force within one poll period.
//!
//! Known shortcoming: when standard input is a terminal, the PIN is echoed
//! as it is typed (turning echo off needs a terminal crate the project does
//! not carry). Pipe it in, or clear the screen after typing.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use armory_actors::domain::EmployeeId;
use clap::Subcommand;
use jiff::Timestamp;

use crate::config::Config;
use crate::personnel;

/// What to do with PINs.
#[derive(Subcommand, Debug)]
pub enum PinCommand {
    /// Enrol or replace a person's PIN (4 to 12 digits), read as one line
    /// from standard input; on a terminal it is echoed.
    Set {
        /// The employee id, e.g. E40004.
        employee: String,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
}

/// Runs one PIN command.
pub fn run(command: PinCommand) -> anyhow::Result<()> {
    match command {
        PinCommand::Set { employee, config } => set(&EmployeeId(employee), &config),
    }
}

fn set(employee: &EmployeeId, config: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let mut db = personnel::open_store(&personnel::store_path(&config))?;

    let pin = read_pin(employee)?;
    let generation = personnel::enrol_pin(
        &mut db,
        employee,
        &pin,
        config.pin_hash_cost(),
        Timestamp::now(),
    )?;
    println!("PIN enrolled for {employee}; personnel generation {generation}");
    Ok(())
}

/// One line from standard input, line end removed; prompts on a terminal.
fn read_pin(employee: &EmployeeId) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("PIN for {employee}: ");
        std::io::stderr().flush().context("writing the prompt")?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the PIN from standard input")?;
    let pin = line.trim_end_matches(['\n', '\r']);
    if pin.is_empty() {
        anyhow::bail!("no PIN on standard input");
    }
    Ok(pin.to_owned())
}
