//! `armory demo`: the service and simulated lockers in one process, and a
//! shift played against them, so a newcomer sees an armory work.
//!
//! The broker refuses anonymous clients, so when the configuration defines
//! no `[[broker.users]]` the demo adds one for the walk-through,
//! [`DEMO_USER`] with the published password [`DEMO_PASSWORD`], and prints
//! the `mosquitto_sub` line that uses it. `armory serve` never does this.

use anyhow::Context as _;
use armory_actors::clock::Clock;
use armory_actors::import::AgencyData;
use armory_device_sim::{run_shift, ShiftPlan, SimConfig, Simulator};

use crate::config::{BrokerUser, Config};
use crate::serve::Service;
use crate::store::Database;

/// The broker user the demo adds when the configuration defines none.
pub const DEMO_USER: &str = "dashboard";

/// Its password, published in the README: the demo is for looking around.
pub const DEMO_PASSWORD: &str = "armory-demo-dashboard";

/// Runs the demo; with `exit` it stops after the shift, otherwise it keeps
/// serving until Ctrl-C so the streams can be explored.
pub async fn run(
    config: &Config,
    sign_outs: usize,
    concurrency: usize,
    exit: bool,
) -> anyhow::Result<()> {
    let mut config = config.clone();
    let demo_user = config.broker.users.is_empty();
    if demo_user {
        let password_hash = crate::broker::auth::hash_password(DEMO_PASSWORD)?;
        config.broker.users.push(BrokerUser {
            name: DEMO_USER.to_owned(),
            password_hash,
        });
    }
    let config = &config;
    let service = Service::start(config, Clock::system()).await?;
    let broker = service.broker_address();
    println!();
    println!(
        "armory demo: {} sites, {} lockers, {} weapons, {} people",
        service.summary().sites,
        service.summary().lockers,
        service.summary().weapons,
        service.summary().people,
    );
    println!("watch it live in another terminal:");
    let (user, password) = match config.broker.users.first() {
        Some(user) if !demo_user => (user.name.as_str(), "PASSWORD"),
        _ => (DEMO_USER, DEMO_PASSWORD),
    };
    println!(
        "  mosquitto_sub -h {} -p {} -u {user} -P {password} -t 'armory/#' -v",
        broker.ip(),
        broker.port()
    );
    println!();

    // The crew and their PINs come from the agency files; where each weapon
    // is comes from the store, which remembers earlier runs.
    let data_dir = config.resolved_data_dir();
    let mut agency = AgencyData::load_dir(&data_dir)
        .map_err(|errors| anyhow::anyhow!("agency files in {}:\n{errors}", data_dir.display()))?;
    agency.armory = Database::open_reader(service.database_path())?.load_armory()?;

    let mut sim_config = SimConfig::new(broker, service.fleet_secret().clone(), agency);
    sim_config.access = config.access.clone();
    let simulator = Simulator::start(sim_config)
        .await
        .context("starting the simulated lockers")?;
    let plan = ShiftPlan {
        sign_outs,
        officers_at_once: concurrency,
        seed: rand::random(),
    };
    // Ctrl-C during the shift stops it where it is and shuts down cleanly;
    // openings cut off are closed out by the next start, as after a crash.
    let report = tokio::select! {
        report = run_shift(&simulator, plan) => Some(report.context("playing the shift")?),
        _ = tokio::signal::ctrl_c() => None,
    };
    let interrupted = report.is_none();
    match report {
        Some(report) => {
            println!("{report}");

            // The crew counted each door as it shut; the service records
            // it a moment later. Let it catch up before the summary is
            // left standing beside a trail that is still being written.
            settle(&service, config.timing.unlock_window()).await?;
        }
        None => println!("shift interrupted by Ctrl-C; stopping"),
    }

    if !exit && !interrupted {
        println!("the armory keeps running; Ctrl-C stops it");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    simulator.shutdown().await;
    service.stop().await;
    Ok(())
}

/// Waits until every granted opening has been closed in the trail (a
/// sign-out, a return, or an expiry after the unlock window), so that
/// stopping now loses no door the crew has already shut. Gives up after
/// the unlock window and a little more, saying so.
async fn settle(service: &Service, unlock_window: std::time::Duration) -> anyhow::Result<()> {
    let store = Database::open_reader(service.database_path())?;
    let patience = unlock_window + std::time::Duration::from_secs(5);
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let open = store.open_grant_count()?;
        if open == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                open,
                "openings still not closed in the trail after the shift"
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
