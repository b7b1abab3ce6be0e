//! `inventory.csv`: each weapon and the compartment it lives in.
//!
//! The export also states the compartment's size; the weapon type has no
//! place for it, so it travels beside the weapon until the cross-file
//! check compares it with the locker's layout.

use super::table::{read_table, FirstSeen, Row, Table};
use crate::domain::{AssetTag, CompartmentNo, CompartmentSize, LockerId, SiteId, Weapon};

/// The columns of `inventory.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &[
    "asset_tag",
    "serial_number",
    "make",
    "model",
    "weapon_class",
    "site_id",
    "locker_id",
    "compartment",
    "compartment_size",
    "status",
    "sign_outs_since_service",
    "last_service_date",
];

/// A weapon and the size of compartment the export says it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stocked {
    pub weapon: Weapon,
    pub size: CompartmentSize,
}

/// Reads `inventory.csv`; see [`super::parse_inventory`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<Stocked> {
    let mut tags = FirstSeen::new();
    let mut places = FirstSeen::new();
    read_table(file, bytes, COLUMNS, |row| {
        let asset_tag = row.text("asset_tag").map(AssetTag::from);
        let serial_number = row.string("serial_number");
        let make = row.string("make");
        let model = row.string("model");
        let class = row.word("weapon_class");
        let site = row.text("site_id").map(SiteId::from);
        let locker = row.text("locker_id").map(LockerId::from);
        let compartment = compartment(row);
        let size = row.word("compartment_size");
        let status = row.word("status");
        let sign_outs = row.count("sign_outs_since_service", u32::MAX);
        let last_service_date = row.date("last_service_date");

        let asset_tag = asset_tag?;
        tags.check(
            row,
            "asset_tag",
            asset_tag.clone(),
            format_args!("asset tag {:?}", asset_tag.as_str()),
        );
        let (locker, compartment) = (locker?, compartment?);
        places.check(
            row,
            "compartment",
            (locker.clone(), compartment),
            format_args!("weapon in compartment {compartment} of locker {locker}"),
        );

        let sign_outs = sign_outs?;
        let weapon = Weapon {
            asset_tag,
            serial_number: serial_number?,
            make: make?,
            model: model?,
            class: class?,
            site: site?,
            locker,
            compartment,
            status: status?,
            sign_outs_since_service: sign_outs,
            // The system has seen no sign-outs yet; its life count starts
            // from what the armory recorded since the last service.
            deployments_since_service: 0,
            total_sign_outs: sign_outs,
            last_service_date: last_service_date?,
            holder: None,
        };
        Some(Stocked {
            weapon,
            size: size?,
        })
    })
}

/// A compartment number, counted from 1.
fn compartment(row: &Row<'_>) -> Option<CompartmentNo> {
    let number = row.count("compartment", CompartmentNo::MAX)?;
    if number == 0 {
        row.fault("compartment", "compartments are numbered from 1");
        return None;
    }
    Some(number)
}
