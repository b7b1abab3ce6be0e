//! The root of the actor tree and how the service starts it.
//!
//! Supervision: root → site → locker → {reader, compartment, weapon}. The
//! root owns nothing but its sites; each parent logs and counts a child's
//! failure and keeps its other children running, so a fault stays within
//! the locker (or site) where it happened.

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::directory::Directory;
use crate::domain::{Armory, Locker, LockerId, SiteId, Weapon};
use crate::services::Services;
use crate::site::{SiteActor, SiteArguments};

/// The root actor.
pub struct ArmoryActor;

/// What the root starts from.
pub struct ArmoryArguments {
    /// Layout and inventory, as loaded from the store.
    pub armory: Armory,
    /// Where lockers are entered for routing.
    pub directory: Directory,
    /// Shared services.
    pub services: Services,
}

/// Messages to the root; none yet besides supervision.
pub enum ArmoryMsg {}

/// Why the tree could not start.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// An actor failed while starting.
    #[error("actor tree did not start: {detail}")]
    Spawn {
        /// What ractor said.
        detail: String,
    },
}

/// Starts the whole tree and returns its root and the routing directory.
pub async fn start(
    armory: Armory,
    services: Services,
) -> Result<(ActorRef<ArmoryMsg>, Directory), TreeError> {
    let directory = Directory::default();
    let arguments = ArmoryArguments {
        armory,
        directory: directory.clone(),
        services,
    };
    let (root, _) = Actor::spawn(None, ArmoryActor, arguments)
        .await
        .map_err(|error| TreeError::Spawn {
            detail: error.to_string(),
        })?;
    Ok((root, directory))
}

impl Actor for ArmoryActor {
    type Msg = ArmoryMsg;
    type State = ();
    type Arguments = ArmoryArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<ArmoryMsg>,
        args: ArmoryArguments,
    ) -> Result<(), ActorProcessingErr> {
        let ArmoryArguments {
            armory,
            directory,
            services,
        } = args;

        let mut by_site: BTreeMap<SiteId, Vec<(Locker, Vec<Weapon>)>> = BTreeMap::new();
        let mut weapons_by_locker: BTreeMap<LockerId, Vec<Weapon>> = BTreeMap::new();
        for weapon in armory.weapons.into_values() {
            weapons_by_locker
                .entry(weapon.locker.clone())
                .or_default()
                .push(weapon);
        }
        for locker in armory.lockers.into_values() {
            let weapons = weapons_by_locker.remove(&locker.id).unwrap_or_default();
            by_site
                .entry(locker.site.clone())
                .or_default()
                .push((locker, weapons));
        }

        for site in armory.sites.into_values() {
            let lockers = by_site.remove(&site.id).unwrap_or_default();
            let arguments = SiteArguments {
                site,
                lockers,
                directory: directory.clone(),
                services: services.clone(),
            };
            Actor::spawn_linked(None, SiteActor, arguments, myself.get_cell()).await?;
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<ArmoryMsg>,
        event: SupervisionEvent,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(child, error) = event {
            tracing::error!(child = %child.get_id(), %error, "site failed");
            metrics::counter!("armory_actor_failures_total", "parent" => "armory").increment(1);
        }
        Ok(())
    }
}
