//! Building the activity stream and anomaly records that several actors
//! emit, so that each emits them the same way.

use jiff::Timestamp;
use uuid::Uuid;

use crate::domain::{
    AssetTag, BadgeUid, CompartmentNo, EmployeeId, LockerId, ReaderId, SiteId, WeaponClass,
};
use crate::ports::{AuditAction, AuditEntry, Decision};
use crate::protocol::{ActivityPayload, AlertPayload, Severity, Topic, SCHEMA_VERSION};
use crate::services::Services;

/// An alert to raise.
#[derive(Clone, Debug)]
pub struct Alert<'a> {
    /// What, e.g. `badge_locked_out`; a fixed word, it labels a metric.
    pub kind: &'static str,
    /// How urgent.
    pub severity: Severity,
    /// The badge concerned, shown only by its fingerprint.
    pub badge: Option<&'a BadgeUid>,
    /// A sentence for the person on duty.
    pub message: String,
}

/// One happening at a locker, before it becomes an activity payload or an
/// audit row.
#[derive(Clone, Debug)]
pub struct Happening {
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Reader, for access decisions.
    pub reader: Option<ReaderId>,
    /// The person, if known.
    pub employee_id: Option<EmployeeId>,
    /// Class asked for.
    pub weapon_class: Option<WeaponClass>,
    /// Weapon.
    pub asset_tag: Option<AssetTag>,
    /// Compartment.
    pub compartment: Option<CompartmentNo>,
    /// Transaction.
    pub transaction: Option<Uuid>,
    /// When.
    pub at: Timestamp,
}

impl Happening {
    /// A happening at a locker with nothing else known yet.
    pub fn at_locker(site: &SiteId, locker: &LockerId, at: Timestamp) -> Self {
        Self {
            site: site.clone(),
            locker: locker.clone(),
            reader: None,
            employee_id: None,
            weapon_class: None,
            asset_tag: None,
            compartment: None,
            transaction: None,
            at,
        }
    }

    /// Publishes it on the locker's activity topic.
    pub fn announce(&self, services: &Services, kind: &str, reason: &str) {
        let payload = ActivityPayload {
            v: SCHEMA_VERSION,
            kind: kind.to_owned(),
            site: self.site.clone(),
            locker: self.locker.clone(),
            reader: self.reader.clone(),
            employee_id: self.employee_id.clone(),
            weapon_class: self.weapon_class,
            asset_tag: self.asset_tag.clone(),
            compartment: self.compartment,
            reason: reason.to_owned(),
            transaction: self.transaction,
            at: self.at,
        };
        let topic = Topic::Activity {
            site: self.site.clone(),
            locker: self.locker.clone(),
        };
        services.bus.publish_event(topic.name(), &payload);
    }

    /// Raises an alert at the locker: MQTT, metric and log.
    pub fn alert(&self, services: &Services, alert: Alert<'_>) {
        let payload = AlertPayload {
            v: SCHEMA_VERSION,
            kind: alert.kind.to_owned(),
            severity: alert.severity,
            site: self.site.clone(),
            locker: self.locker.clone(),
            reader: self.reader.clone(),
            badge: alert.badge.map(BadgeUid::fingerprint),
            asset_tag: self.asset_tag.clone(),
            compartment: self.compartment,
            message: alert.message,
            at: self.at,
        };
        let topic = Topic::Alert {
            site: self.site.clone(),
            locker: self.locker.clone(),
        };
        services.bus.publish_event(topic.name(), &payload);
        metrics::counter!("armory_alerts_total", "kind" => alert.kind).increment(1);
        match alert.severity {
            Severity::Critical => {
                tracing::warn!(locker = %self.locker, kind = alert.kind, "alert raised");
            }
            Severity::Warning | Severity::Info => {
                tracing::info!(locker = %self.locker, kind = alert.kind, "alert raised");
            }
        }
    }

    /// The audit row recording it.
    pub fn audit_entry(&self, action: AuditAction, decision: Decision, reason: &str) -> AuditEntry {
        AuditEntry {
            event_id: None,
            at: self.at,
            site: self.site.clone(),
            locker: self.locker.clone(),
            reader: self.reader.clone(),
            action,
            badge: None,
            employee_id: self.employee_id.clone(),
            weapon_class: self.weapon_class,
            asset_tag: self.asset_tag.clone(),
            compartment: self.compartment,
            decision,
            reason: reason.to_owned(),
            transaction: self.transaction,
        }
    }

    /// Records an anomaly in the audit trail and on the activity stream.
    /// A store failure here is logged: the anomaly itself changes nothing.
    pub async fn record_anomaly(&self, services: &Services, reason: &'static str) {
        let entry = self.audit_entry(AuditAction::Anomaly, Decision::Recorded, reason);
        if let Err(error) = services.store.commit(entry, None).await {
            tracing::error!(locker = %self.locker, reason, %error, "anomaly not recorded");
        }
        metrics::counter!("armory_anomalies_total", "reason" => reason).increment(1);
        self.announce(services, "anomaly", reason);
    }
}
