//! The trail the audit CLI tests read: a tiny agency with one
//! Pacific-time site, six audit rows committed through the real store
//! writer in a temp dir, a configuration file pointing at it, and helpers
//! that run the real `armory` binary on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use armory::store::{spawn_writer, Database};
use armory_actors::domain::{
    Armory, AssetTag, BadgeUid, CompartmentSize, EmployeeId, Locker, LockerId, Person,
    PersonStatus, Personnel, ReaderKind, Role, ServiceStatus, Site, SiteId, Weapon, WeaponClass,
};
use armory_actors::ports::{AuditAction, AuditEntry, Decision, Store, WeaponChange};
use jiff::Timestamp;
use tempfile::TempDir;
use uuid::Uuid;

/// The enrolled PIN hash; no output may ever show it, nor any PIN.
pub const PIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

/// A reason that only row 3 stores, so its bytes can be found in the file.
pub const TAMPER_MARK: &str = "not_certified";

/// A store with a six-row trail, and a configuration pointing at it.
pub struct Trail {
    pub dir: TempDir,
    pub config: PathBuf,
    pub database: PathBuf,
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("test instants are valid")
}

fn badge(text: &str) -> BadgeUid {
    BadgeUid::parse(text).expect("test badges are valid")
}

/// One Pacific-time site, one locker, two weapons, an officer certified
/// for the CEW and an armorer certified for nothing.
fn agency() -> (Armory, Personnel) {
    let site = Site {
        id: SiteId::from("SLM"),
        name: "Salem".to_owned(),
        timezone: "America/Los_Angeles".to_owned(),
    };
    let locker = Locker {
        site: site.id.clone(),
        id: LockerId::from("SLM-L1"),
        model: "LK-2".to_owned(),
        compartments: vec![CompartmentSize::Small, CompartmentSize::Large],
        readers: vec![ReaderKind::BadgePin, ReaderKind::BadgePin],
    };
    let weapon = |tag: &str, class, compartment| Weapon {
        asset_tag: AssetTag::from(tag),
        serial_number: format!("SN-{tag}"),
        make: "Acme".to_owned(),
        model: "M1".to_owned(),
        class,
        site: site.id.clone(),
        locker: locker.id.clone(),
        compartment,
        status: ServiceStatus::InService,
        sign_outs_since_service: 0,
        total_sign_outs: 3,
        deployments_since_service: 0,
        last_service_date: "2026-06-30".parse().expect("valid date"),
        holder: None,
    };
    let weapons = [
        weapon("LL-01001", WeaponClass::Cew, 1),
        weapon("LL-01002", WeaponClass::PatrolRifle, 2),
    ];
    let armory = Armory {
        sites: BTreeMap::from([(site.id.clone(), site)]),
        lockers: BTreeMap::from([(locker.id.clone(), locker)]),
        weapons: weapons
            .into_iter()
            .map(|w| (w.asset_tag.clone(), w))
            .collect(),
    };

    let person = |id: &str, badge_uid: &str, role| Person {
        employee_id: EmployeeId::from(id),
        last_name: "Doe".to_owned(),
        first_name: id.to_owned(),
        rank: "Trooper".to_owned(),
        role,
        home_site: SiteId::from("SLM"),
        status: PersonStatus::Active,
        badge: badge(badge_uid),
        hire_date: "2019-03-01".parse().expect("valid date"),
    };
    let officer = person("E40001", "04A1B2C3", Role::Officer);
    let armorer = person("E40002", "04D4E5F6", Role::Armorer);
    let personnel = Personnel {
        certifications: BTreeMap::new(),
        pin_hashes: BTreeMap::from([(officer.employee_id.clone(), PIN_HASH.to_owned())]),
        people: BTreeMap::from([
            (officer.employee_id.clone(), officer),
            (armorer.employee_id.clone(), armorer),
        ]),
    };
    (armory, personnel)
}

/// An access attempt at SLM-L1, as a reader records it: the officer
/// E40001 badges at R1, the armorer E40002 at R2.
fn attempt(when: &str, action: AuditAction, who: &str) -> AuditEntry {
    let (uid, reader) = match who {
        "E40001" => ("04A1B2C3", "R1"),
        _ => ("04D4E5F6", "R2"),
    };
    AuditEntry {
        event_id: Some(Uuid::new_v4()),
        at: at(when),
        site: SiteId::from("SLM"),
        locker: LockerId::from("SLM-L1"),
        reader: Some(reader.into()),
        action,
        badge: Some(badge(uid)),
        employee_id: Some(EmployeeId::from(who)),
        weapon_class: Some(WeaponClass::Cew),
        asset_tag: Some(AssetTag::from("LL-01001")),
        compartment: Some(1),
        decision: Decision::Granted,
        reason: "granted".to_owned(),
        transaction: None,
    }
}

/// A weapon's own record of leaving or coming back, with no badge.
fn fact(when: &str, action: AuditAction, reason: &str, transaction: Uuid) -> AuditEntry {
    AuditEntry {
        event_id: None,
        reader: None,
        badge: None,
        decision: Decision::Recorded,
        reason: reason.to_owned(),
        transaction: Some(transaction),
        ..attempt(when, action, "E40001")
    }
}

/// Seeds the agency and commits, through the real writer:
/// 1. 08:50:00Z (01:50 PDT) sign-out request by E40001, granted;
/// 2. 08:50:14Z its sign-out;
/// 3. 09:05:00Z (01:05 PST) a denied request by E40002 (not certified);
/// 4. 09:30:00Z (01:30 PST) the return request, granted;
/// 5. 09:30:09Z the return;
/// 6. the next day, an anomaly whose reason needs CSV quoting.
pub fn trail() -> Trail {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("armory.sqlite3");
    let (armory, personnel) = agency();
    let mut db = Database::open(&database).expect("store opens");
    db.seed(&armory, &personnel).expect("seed succeeds");

    let (sign_out, give_back) = (Uuid::new_v4(), Uuid::new_v4());
    let holder = EmployeeId::from("E40001");
    let weapon = AssetTag::from("LL-01001");
    let mut request = attempt(
        "2026-11-01T08:50:00Z",
        AuditAction::SignOutRequest,
        "E40001",
    );
    request.transaction = Some(sign_out);
    let mut denied = attempt(
        "2026-11-01T09:05:00Z",
        AuditAction::SignOutRequest,
        "E40002",
    );
    denied.weapon_class = Some(WeaponClass::PatrolRifle);
    (denied.asset_tag, denied.compartment) = (None, None);
    (denied.decision, denied.reason) = (Decision::Denied, TAMPER_MARK.to_owned());
    let mut back = attempt("2026-11-01T09:30:00Z", AuditAction::ReturnRequest, "E40001");
    back.transaction = Some(give_back);
    let anomaly = AuditEntry {
        action: AuditAction::Anomaly,
        employee_id: None,
        weapon_class: None,
        asset_tag: None,
        compartment: None,
        reason: "door_forced: \"rear\" panel, bay 2".to_owned(),
        transaction: None,
        ..fact("2026-11-02T17:00:00Z", AuditAction::Anomaly, "", sign_out)
    };
    let rows = [
        (request, None),
        (
            fact(
                "2026-11-01T08:50:14Z",
                AuditAction::SignedOut,
                "signed_out",
                sign_out,
            ),
            Some(WeaponChange::SignedOut {
                asset_tag: weapon.clone(),
                holder: holder.clone(),
                transaction: sign_out,
                at: at("2026-11-01T08:50:14Z"),
            }),
        ),
        (denied, None),
        (back, None),
        (
            fact(
                "2026-11-01T09:30:09Z",
                AuditAction::Returned,
                "returned",
                give_back,
            ),
            Some(WeaponChange::Returned {
                asset_tag: weapon,
                holder,
                transaction: give_back,
                at: at("2026-11-01T09:30:09Z"),
            }),
        ),
        (anomaly, None),
    ];

    let (store, requests) = Store::channel(8);
    let writer = spawn_writer(db, requests).expect("writer starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (expected, (entry, change)) in (1..).zip(rows) {
        let seq = runtime
            .block_on(store.commit(entry, change))
            .expect("commit succeeds");
        assert_eq!(seq, expected);
    }
    drop(store);
    writer.join().expect("writer ends cleanly");

    let config = dir.path().join("armory.toml");
    std::fs::write(&config, config_text(dir.path())).expect("config written");
    Trail {
        dir,
        config,
        database,
    }
}

/// The shape of `config/armory.toml`, with the state folder in `state`.
/// The agency folder is not read: the store is not empty.
pub fn config_text(state: &Path) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    format!(
        "[service]\nstate_dir = '{}'\n[broker]\nlisten = '127.0.0.1:0'\nmax_connections = 10\n\
         [metrics]\nenabled = false\nlisten = '127.0.0.1:0'\n[agency]\ndata_dir = '{}'\n\
         [timing]\nunlock_window_seconds = 30\ndoor_open_limit_seconds = 120\n\
         command_lifetime_seconds = 5\n[security]\npin_hash_memory_kib = 64\n\
         pin_hash_iterations = 1\n",
        state.display(),
        data.display()
    )
}

impl Trail {
    /// Runs `armory audit <args> --config <this trail's config>`.
    pub fn audit(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_armory"))
            .arg("audit")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("the armory binary runs")
    }

    /// Runs a command that must succeed and returns its standard output.
    pub fn stdout(&self, args: &[&str]) -> String {
        let output = self.audit(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// The seqs that `audit query` lists for these filters.
    pub fn seqs(&self, filters: &[&str]) -> Vec<i64> {
        let args = [&["query", "--format", "jsonl"], filters].concat();
        self.stdout(&args)
            .lines()
            .map(|line| {
                let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                row["seq"].as_i64().expect("seq is a number")
            })
            .collect()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The records of a CSV text, header first.
pub fn csv_records(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("valid CSV")
}
