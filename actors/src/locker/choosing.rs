//! Which weapon a sign-out gets, which one a return brings back, and which
//! one an armorer's service opening is for: always through the weapons' own
//! actors, so a reservation is never given twice.

use super::*;

impl LockerState {
    pub(super) async fn views(&self) -> Vec<(ActorRef<WeaponMsg>, WeaponView)> {
        let mut views = Vec::with_capacity(self.weapons.len());
        for (_, weapon, _) in &self.weapons {
            if let Ok(view) = ractor::call!(weapon, WeaponMsg::Status) {
                views.push((weapon.clone(), view));
            }
        }
        views
    }

    pub(super) async fn allocate(
        &self,
        weapon_class: WeaponClass,
        holder: EmployeeId,
        transaction: Uuid,
    ) -> Result<Allocation, Reason> {
        let mut candidates: Vec<_> = self
            .views()
            .await
            .into_iter()
            .filter(|(_, view)| {
                view.class == weapon_class
                    && view.condition == WeaponCondition::Available
                    && !self.held.contains(&view.compartment)
            })
            .collect();
        candidates.sort_by(|(_, a), (_, b)| {
            (a.sign_outs_since_service, &a.asset_tag)
                .cmp(&(b.sign_outs_since_service, &b.asset_tag))
        });

        for (weapon, view) in candidates {
            let Some(compartment_actor) = self.compartments.get(&view.compartment) else {
                continue;
            };
            let reserved = ractor::call!(weapon, |reply| WeaponMsg::Reserve {
                transaction,
                holder: holder.clone(),
                reply,
            });
            if let Ok(Ok(())) = reserved {
                return Ok(Allocation {
                    asset_tag: view.asset_tag,
                    weapon_class,
                    compartment: view.compartment,
                    weapon,
                    compartment_actor: compartment_actor.clone(),
                });
            }
        }
        Err(Reason::NoWeaponAvailable)
    }

    pub(super) async fn for_service(
        &self,
        compartment: CompartmentNo,
        transaction: Uuid,
    ) -> Result<Allocation, Reason> {
        let compartment_actor = self
            .compartments
            .get(&compartment)
            .ok_or(Reason::BadRequest)?
            .clone();
        let (weapon, view) = self
            .views()
            .await
            .into_iter()
            .find(|(_, view)| view.compartment == compartment)
            .ok_or(Reason::WeaponNotInCompartment)?;
        let begun = ractor::call!(weapon, |reply| WeaponMsg::BeginService {
            transaction,
            reply
        });
        match begun {
            Ok(Ok(())) => Ok(Allocation {
                asset_tag: view.asset_tag,
                weapon_class: view.class,
                compartment,
                weapon,
                compartment_actor,
            }),
            _ => Err(Reason::WeaponNotInCompartment),
        }
    }

    pub(super) async fn find_held(
        &self,
        holder: EmployeeId,
        transaction: Uuid,
    ) -> Result<Allocation, Reason> {
        let held = self
            .views()
            .await
            .into_iter()
            .filter(|(_, view)| view.condition == WeaponCondition::SignedOut)
            .filter(|(_, view)| view.holder.as_ref() == Some(&holder));

        for (weapon, view) in held {
            let Some(compartment_actor) = self.compartments.get(&view.compartment) else {
                continue;
            };
            let begun = ractor::call!(weapon, |reply| WeaponMsg::BeginReturn {
                transaction,
                holder: holder.clone(),
                reply,
            });
            if let Ok(Ok(())) = begun {
                return Ok(Allocation {
                    asset_tag: view.asset_tag,
                    weapon_class: view.class,
                    compartment: view.compartment,
                    weapon,
                    compartment_actor: compartment_actor.clone(),
                });
            }
        }
        Err(Reason::NothingToReturn)
    }
}
