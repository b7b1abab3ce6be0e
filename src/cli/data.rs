//! `armory check-data`: validate an agency's exports without a service.

use std::path::Path;

use armory_actors::import::AgencyData;

/// Loads and cross-checks the six files; prints counts or every problem.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    match AgencyData::load_dir(dir) {
        Ok(data) => {
            println!(
                "ok: {} sites, {} lockers, {} weapons, {} people, {} PINs",
                data.armory.sites.len(),
                data.armory.lockers.len(),
                data.armory.weapons.len(),
                data.personnel.people.len(),
                data.pins.len()
            );
            Ok(())
        }
        Err(errors) => {
            let count = errors.len();
            let problems = if count == 1 { "problem" } else { "problems" };
            anyhow::bail!("{count} {problems} in {}:\n{errors}", dir.display())
        }
    }
}
