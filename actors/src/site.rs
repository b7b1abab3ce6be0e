//! One office: the parent of its lockers.
//!
//! A site spawns a locker actor per locker and enters each in the
//! [`Directory`] so the bus can route events to it. A locker that fails is
//! reported and taken out of the directory, so its events are refused and
//! counted while the other lockers of the site keep working.

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::directory::Directory;
use crate::domain::{Locker, Site, Weapon};
use crate::locker::{LockerActor, LockerArguments};
use crate::services::Services;

/// The site actor.
pub struct SiteActor;

/// What a site actor starts from.
pub struct SiteArguments {
    /// The office.
    pub site: Site,
    /// Its lockers, each with the weapons whose home it is.
    pub lockers: Vec<(Locker, Vec<Weapon>)>,
    /// Where lockers are entered for routing.
    pub directory: Directory,
    /// Shared services.
    pub services: Services,
}

/// A site's live state.
pub struct SiteState {
    site: Site,
    directory: Directory,
}

/// Messages to a site; none yet besides supervision.
pub enum SiteMsg {}

impl Actor for SiteActor {
    type Msg = SiteMsg;
    type State = SiteState;
    type Arguments = SiteArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<SiteMsg>,
        args: SiteArguments,
    ) -> Result<SiteState, ActorProcessingErr> {
        for (locker, weapons) in args.lockers {
            let id = locker.id.clone();
            let arguments = LockerArguments {
                locker,
                weapons,
                services: args.services.clone(),
            };
            let (actor, _) =
                Actor::spawn_linked(None, LockerActor, arguments, myself.get_cell()).await?;
            args.directory.enter(id, args.site.id.clone(), actor);
        }
        Ok(SiteState {
            site: args.site,
            directory: args.directory,
        })
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<SiteMsg>,
        event: SupervisionEvent,
        state: &mut SiteState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(child, error) => {
                tracing::error!(
                    site = %state.site.id,
                    child = %child.get_id(),
                    %error,
                    "locker failed"
                );
                metrics::counter!("armory_actor_failures_total", "parent" => "site").increment(1);
                state.directory.remove_actor(child.get_id());
            }
            SupervisionEvent::ActorTerminated(child, _, _) => {
                state.directory.remove_actor(child.get_id());
            }
            _ => {}
        }
        Ok(())
    }
}
