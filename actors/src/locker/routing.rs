//! How a locker takes in what its hardware sends: every event is opened
//! (tag, expiry), checked against duplicates and the sender's counter,
//! counted as a sign of life (of the controller, and of the reader whose
//! topic it came on), and handed to the reader or compartment it names;
//! anything else is refused with a reason and counted. A scan at an
//! isolated reader is denied as `device_isolated`, audited and shown, and
//! opens nothing; a panel report or service record there is refused the
//! same way, as an anomaly, and changes nothing. The last events handed to
//! each reader are remembered, so that those its actor leaves undecided
//! when it fails are refused as `reader_failed` (see [`super::undecided`]);
//! one that cannot be handed over, because the actor has just stopped, is
//! refused so at once.

use super::undecided::Routed;
use super::*;
use crate::protocol::AccessRequest;

impl LockerState {
    pub(super) async fn on_device(&mut self, topic: Topic, topic_name: &str, payload: &[u8]) {
        let now = self.services.clock.now();
        let opened = SealedEnvelope::<DeviceEvent>::open(&self.key, topic_name, payload, now);
        let envelope = match opened {
            Ok(envelope) => envelope,
            Err(error) => return self.reject(error.code(), &error.to_string()),
        };
        if envelope.sender != self.locker.id.as_str() {
            return self.reject("wrong_sender", "sender is not this locker");
        }
        if self.recent.contains(&envelope.id) {
            metrics::counter!("armory_device_events_duplicate_total").increment(1);
            tracing::debug!(locker = %self.locker.id, event = %envelope.id, "redelivered event");
            return;
        }
        // A last will is sealed when the controller connects, before the
        // events it follows: it is exempt from the counter, not from the
        // tag, the expiry or the duplicate check.
        if envelope.body == DeviceEvent::ControllerOffline {
            self.recent.insert(envelope.id);
            return self
                .went_offline("it said goodbye (or its last will)")
                .await;
        }
        if let Err(error) = self.counters.accept(&envelope.sender, envelope.counter) {
            return self.reject(error.code(), &error.to_string());
        }
        self.recent.insert(envelope.id);
        self.heard().await;
        if let Topic::ReaderEvent { reader, .. } = &topic {
            self.reader_heard(reader).await;
        }

        let kind = envelope.body.kind();
        metrics::counter!("armory_device_events_total", "kind" => kind).increment(1);
        tracing::debug!(locker = %self.locker.id, kind, event = %envelope.id, "device event");

        match (topic, envelope.body) {
            (
                Topic::ControllerEvent { .. },
                DeviceEvent::ControllerOnline { .. } | DeviceEvent::Heartbeat,
            ) => {}
            (Topic::ReaderEvent { .. }, DeviceEvent::Heartbeat) => {}
            (Topic::ControllerEvent { .. }, DeviceEvent::Tamper) => self.tampered().await,
            (
                Topic::ReaderEvent { reader, .. },
                DeviceEvent::Scan {
                    badge_uid,
                    pin_sealed,
                    fingerprint_match,
                    request,
                },
            ) => {
                let scan = Scan {
                    event_id: envelope.id,
                    badge_uid,
                    pin_sealed,
                    fingerprint_match,
                    request,
                };
                let key = ChildKey::Reader(reader.clone());
                if self.isolated.contains(&key) {
                    self.reject("isolated", "the reader's actor is isolated");
                    return self
                        .deny_at_reader(reader, scan, Reason::DeviceIsolated)
                        .await;
                }
                let Some(actor) = self.readers.get(&reader).cloned() else {
                    return self.reject_missing(key);
                };

                // Remembered before it goes, so that it is denied if the
                // reader fails with it still in the mailbox.
                self.undecided.routed(&reader, Routed::Scan(scan.clone()));
                if actor.cast(ReaderMsg::Scan(scan.clone())).is_err() {
                    self.reject("reader_down", "reader actor is not running");
                    self.deny_at_reader(reader, scan, Reason::ReaderFailed)
                        .await;
                }
            }
            (
                Topic::ReaderEvent { reader, .. },
                event @ (DeviceEvent::PanelReport { .. } | DeviceEvent::ServiceRecord { .. }),
            ) => {
                let event_id = envelope.id;
                let key = ChildKey::Reader(reader.clone());
                if self.isolated.contains(&key) {
                    self.reject("isolated", "the reader's actor is isolated");
                    return self
                        .refuse_panel_at_reader(reader, event_id, event, Reason::DeviceIsolated)
                        .await;
                }
                let Some(actor) = self.readers.get(&reader).cloned() else {
                    return self.reject_missing(key);
                };

                // Remembered like a scan: a report lost with a failed
                // reader would leave a damaged weapon in rotation.
                self.undecided
                    .routed(&reader, Routed::Panel(event_id, event.clone()));
                if actor
                    .cast(ReaderMsg::Panel(event_id, event.clone()))
                    .is_err()
                {
                    self.reject("reader_down", "reader actor is not running");
                    self.refuse_panel_at_reader(reader, event_id, event, Reason::ReaderFailed)
                        .await;
                }
            }
            (
                Topic::CompartmentEvent { compartment, .. },
                event @ (DeviceEvent::DoorOpened
                | DeviceEvent::DoorClosed { .. }
                | DeviceEvent::WeaponTagRead { .. }),
            ) => {
                let Some(actor) = self.compartments.get(&compartment) else {
                    return self.reject_missing(ChildKey::Compartment(compartment));
                };
                if actor.cast(CompartmentMsg::Device(event)).is_err() {
                    self.reject("compartment_down", "compartment actor is not running");
                }
            }
            _ => self.reject("misrouted", "event kind does not belong on this topic"),
        }
    }

    /// A scan no reader actor will decide (its reader is isolated, or its
    /// actor failed first): fail secure. The attempt is denied, audited
    /// once (by its event id) and shown on the reader's display. A scan the
    /// reader did decide already has its row: the store refuses a second
    /// one, and nothing more is done.
    pub(super) async fn deny_at_reader(&self, reader: ReaderId, scan: Scan, reason: Reason) {
        let (mut happening, badge) = self.refused_at(&reader, &scan.badge_uid);
        if let AccessRequest::SignOut { weapon_class } = scan.request {
            happening.weapon_class = Some(weapon_class);
        }
        let action = crate::reader::audit_action(scan.request);
        let mut entry = happening.audit_entry(action, Decision::Denied, reason.code());
        entry.badge = badge;
        let what = "denial not recorded";
        if !self
            .record_refusal(&reader, scan.event_id, entry, reason, what)
            .await
        {
            return;
        }

        happening.announce(&self.services, "access_denied", reason.code());
        let class = happening.weapon_class.map_or("none", |c| c.as_str());
        metrics::counter!(
            "armory_access_decisions_total",
            "decision" => "denied",
            "reason" => reason.code(),
            "weapon_class" => class,
        )
        .increment(1);
        tracing::info!(
            locker = %self.locker.id,
            reader = %reader,
            reason = reason.code(),
            decision = "denied",
            "access decided"
        );
    }

    /// A panel report or service record no reader actor will decide (its
    /// reader is isolated, or its actor failed first): refused as the
    /// reader refuses one, with a denied `anomaly` row (once, by its event
    /// id), the refusal on the reader's display and an `anomaly` activity.
    /// It changes no weapon. One the reader did decide already has its
    /// row: the store refuses a second one, and nothing more is done.
    pub(super) async fn refuse_panel_at_reader(
        &self,
        reader: ReaderId,
        event_id: Uuid,
        event: DeviceEvent,
        reason: Reason,
    ) {
        let (DeviceEvent::PanelReport {
            badge_uid,
            asset_tag,
            ..
        }
        | DeviceEvent::ServiceRecord {
            badge_uid,
            asset_tag,
            ..
        }) = event
        else {
            return;
        };
        let (mut happening, badge) = self.refused_at(&reader, &badge_uid);
        happening.asset_tag = Some(asset_tag);
        let mut entry =
            happening.audit_entry(AuditAction::Anomaly, Decision::Denied, reason.code());
        entry.badge = badge;
        let what = "refused panel event not recorded";
        if !self
            .record_refusal(&reader, event_id, entry, reason, what)
            .await
        {
            return;
        }

        happening.announce(&self.services, "anomaly", reason.code());
        metrics::counter!("armory_anomalies_total", "reason" => reason.code()).increment(1);
        tracing::warn!(
            locker = %self.locker.id,
            reader = %reader,
            event = %event_id,
            reason = reason.code(),
            "panel report refused"
        );
    }

    /// The activity of an event refused at `reader`, naming the person
    /// whose badge it carries when the badge is one.
    fn refused_at(&self, reader: &ReaderId, badge_text: &str) -> (Happening, Option<BadgeUid>) {
        let mut happening = self.happening();
        happening.reader = Some(reader.clone());
        let badge = BadgeUid::parse(badge_text).ok();
        if let Some(badge) = &badge {
            let personnel = self.services.personnel.snapshot();
            happening.employee_id = personnel.by_badge(badge).map(|p| p.employee_id.clone());
        }
        (happening, badge)
    }

    /// Commits the refusal of event `event_id` (once, by its id) and shows
    /// it on the reader's display. False when nothing more is to be done:
    /// the event has its row already, or the row failed for an event a
    /// failed reader may have decided and shown before it failed; with no
    /// store to ask, nothing is shown rather than contradict a grant.
    async fn record_refusal(
        &self,
        reader: &ReaderId,
        event_id: Uuid,
        mut entry: crate::ports::AuditEntry,
        reason: Reason,
        what: &'static str,
    ) -> bool {
        entry.event_id = Some(event_id);
        match self.services.store.commit(entry, None).await {
            Ok(_) => {}
            Err(crate::ports::StoreError::Duplicate { .. }) => return false,
            Err(error) => {
                tracing::error!(
                    locker = %self.locker.id,
                    reader = %reader,
                    event = %event_id,
                    %error,
                    "{what}"
                );
                if reason == Reason::ReaderFailed {
                    return false;
                }
            }
        }

        let display = crate::reader::Display {
            services: &self.services,
            key: &self.key,
            site: &self.site,
            locker: &self.locker.id,
            reader,
        };
        display.show(event_id, false, reason, None);
        true
    }

    /// An event for a child that is not running: isolated, or unknown.
    pub(super) fn reject_missing(&self, key: ChildKey) {
        if self.isolated.contains(&key) {
            return self.reject("isolated", "the device's actor is isolated");
        }
        match key {
            ChildKey::Reader(_) => self.reject("unknown_reader", "no such reader on this locker"),
            _ => self.reject("unknown_compartment", "no such compartment"),
        }
    }

    pub(super) fn reject(&self, reason: &'static str, detail: &str) {
        metrics::counter!("armory_device_events_rejected_total", "reason" => reason).increment(1);
        tracing::warn!(locker = %self.locker.id, reason, detail, "device event rejected");
    }
}
