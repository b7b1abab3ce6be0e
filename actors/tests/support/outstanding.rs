//! The fake stores' answer to "is this weapon out?": read from the audit
//! rows they keep, as the real store reads its sign-out ledger and trail.

use armory_actors::domain::AssetTag;
use armory_actors::ports::{AuditAction, AuditEntry, OutstandingSignOut, OverdueStage};

/// The last sign-out of `asset_tag` with no return after it, and how far
/// the `overdue` rows of that sign-out say it has gone.
pub fn outstanding_sign_out(
    rows: &[AuditEntry],
    asset_tag: &AssetTag,
) -> Option<OutstandingSignOut> {
    let of_weapon = |r: &&AuditEntry| r.asset_tag.as_ref() == Some(asset_tag);
    let last = rows
        .iter()
        .rposition(|r| of_weapon(&r) && r.action == AuditAction::SignedOut)?;
    let returned = rows[last..]
        .iter()
        .filter(of_weapon)
        .any(|r| r.action == AuditAction::Returned);
    if returned {
        return None;
    }

    let sign_out = &rows[last];
    let overdue = rows[last..]
        .iter()
        .filter(|r| r.action == AuditAction::Overdue && r.transaction == sign_out.transaction)
        .fold(OverdueStage::OnTime, |stage, row| {
            match row.reason.as_str() {
                "weapon_overdue" => OverdueStage::Late,
                "weapon_overdue_escalated" => OverdueStage::Escalated,
                _ => stage,
            }
        });
    Some(OutstandingSignOut {
        transaction: sign_out.transaction?,
        signed_out_at: sign_out.at,
        overdue,
    })
}
