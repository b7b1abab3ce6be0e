//! `armory broker hash-password`: the config lines of a broker user.
//!
//! The password is read as one line from standard input, never from the
//! command line, and hashed with argon2id; the command prints the
//! `[[broker.users]]` table to paste into the configuration. Neither the
//! password nor anything derived from it but the hash is printed.
//!
//! Known shortcoming: on a terminal the password is echoed as it is typed
//! (the project carries no terminal crate). Pipe it in instead.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use armory_actors::protocol::bounds::is_id;
use clap::Subcommand;

use crate::broker::auth::{hash_password, LOCKER_PREFIX};

/// The embedded broker's users.
#[derive(Subcommand, Debug)]
pub enum BrokerCommand {
    /// Read a password from standard input and print the
    /// `[[broker.users]]` entry for it.
    HashPassword {
        /// The user name the entry is for.
        #[arg(long, default_value = "dashboard")]
        name: String,
    },
}

/// Runs one broker command.
pub fn run(command: BrokerCommand) -> anyhow::Result<()> {
    match command {
        BrokerCommand::HashPassword { name } => hash(&name),
    }
}

fn hash(name: &str) -> anyhow::Result<()> {
    let reserved =
        name.starts_with(LOCKER_PREFIX) || name == armory_actors::protocol::SERVICE_MQTT_USER;
    if !is_id(name) || reserved {
        anyhow::bail!(
            "{name:?} cannot be a user name: 1 to 64 characters of [A-Za-z0-9._-], \
             not armory-service and not starting with {LOCKER_PREFIX}"
        );
    }

    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password for {name}: ");
        std::io::stderr().flush().context("writing the prompt")?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    let hash = hash_password(password)?;
    println!("[[broker.users]]");
    println!("name = \"{name}\"");
    println!("password_hash = \"{hash}\"");
    Ok(())
}
