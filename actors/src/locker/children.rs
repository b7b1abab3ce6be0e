//! Spawning a locker's readers and compartments, at start and again after
//! a failure, and telling which child a failed actor was.

use super::*;

impl LockerState {
    /// Which child an actor is.
    pub(super) fn child_key(&self, child: &ractor::ActorCell) -> Option<ChildKey> {
        let id = child.get_id();
        if let Some((reader, _)) = self.readers.iter().find(|(_, a)| a.get_id() == id) {
            return Some(ChildKey::Reader(reader.clone()));
        }
        if let Some((number, _)) = self.compartments.iter().find(|(_, a)| a.get_id() == id) {
            return Some(ChildKey::Compartment(*number));
        }
        self.weapons
            .iter()
            .find(|(_, actor, _)| actor.get_id() == id)
            .map(|(_, _, tag)| ChildKey::Weapon(tag.clone()))
    }

    /// Spawns (or spawns again) a reader or compartment under this locker.
    pub(super) async fn respawn(
        &mut self,
        myself: &ActorRef<LockerMsg>,
        key: &ChildKey,
    ) -> Result<(), ractor::SpawnErr> {
        let cell = myself.get_cell();
        match key {
            ChildKey::Reader(reader) => {
                let kind = self
                    .locker
                    .reader_ids()
                    .find(|(id, _)| id == reader)
                    .map(|(_, kind)| kind)
                    .ok_or_else(|| ractor::SpawnErr::StartupFailed("no such reader".into()))?;
                let arguments = ReaderArguments {
                    site: self.site.clone(),
                    locker: self.locker.id.clone(),
                    reader: reader.clone(),
                    kind,
                    key: self.key.clone(),
                    parent: myself.clone(),
                    services: self.services.clone(),
                };
                let (actor, _) = Actor::spawn_linked(None, ReaderActor, arguments, cell).await?;
                self.readers.insert(reader.clone(), actor);
            }
            ChildKey::Compartment(number) => {
                let home = self.homes.get(number);
                let arguments = CompartmentArguments {
                    site: self.site.clone(),
                    locker: self.locker.id.clone(),
                    number: *number,
                    home_of: home.map(|(tag, _, _)| tag.clone()),
                    home_weapon: home.map(|(_, actor, _)| actor.clone()),
                    home_class: home.map(|(_, _, class)| *class),
                    key: self.key.clone(),
                    parent: myself.clone(),
                    services: self.services.clone(),
                };
                let (actor, _) =
                    Actor::spawn_linked(None, CompartmentActor, arguments, cell).await?;
                self.compartments.insert(*number, actor);
            }
            ChildKey::Weapon(_) => {
                return Err(ractor::SpawnErr::StartupFailed(
                    "weapons are not restarted in place".into(),
                ))
            }
        }
        Ok(())
    }
}
