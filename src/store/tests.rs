//! Tests of the SQLite store: opening and migrating, seeding and loading.
//! The writer's tests are in `tests/writer.rs`, the audit trail's in
//! `tests/audit.rs`; the small agency they share is built here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use armory_actors::domain::{
    Armory, AssetTag, BadgeUid, Certification, CompartmentSize, EmployeeId, Locker, LockerId,
    Person, PersonStatus, Personnel, ReaderKind, Role, ServiceStatus, Site, SiteId, Weapon,
    WeaponClass,
};
use armory_actors::ports::{AuditAction, AuditEntry, Decision};
use jiff::Timestamp;
use tempfile::TempDir;
use uuid::Uuid;

use super::{Database, DbError};

mod audit;
mod writer;

/// A fresh directory and the database path inside it.
fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir can be created");
    let path = dir.path().join("armory.db");
    (dir, path)
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("test instants are valid")
}

/// One site in Pacific time, one locker with three compartments, three
/// weapons, two people.
fn small_armory() -> Armory {
    let site = Site {
        id: SiteId::from("SLM"),
        name: "Salem".to_owned(),
        timezone: "America/Los_Angeles".to_owned(),
    };
    let locker = Locker {
        site: site.id.clone(),
        id: LockerId::from("SLM-L1"),
        model: "LK-3".to_owned(),
        compartments: vec![
            CompartmentSize::Small,
            CompartmentSize::Medium,
            CompartmentSize::Large,
        ],
        readers: vec![ReaderKind::BadgePin, ReaderKind::BadgeFingerprint],
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
        sign_outs_since_service: 4,
        total_sign_outs: 17,
        deployments_since_service: 0,
        last_service_date: "2026-06-30".parse().expect("valid date"),
        holder: None,
    };
    let weapons = [
        weapon("LL-01001", WeaponClass::Cew, 1),
        weapon("LL-01002", WeaponClass::Pepperball, 2),
        weapon("LL-01003", WeaponClass::PatrolRifle, 3),
    ];

    Armory {
        sites: BTreeMap::from([(site.id.clone(), site.clone())]),
        lockers: BTreeMap::from([(locker.id.clone(), locker)]),
        weapons: weapons
            .into_iter()
            .map(|w| (w.asset_tag.clone(), w))
            .collect(),
    }
}

fn small_personnel() -> Personnel {
    let person = |id: &str, badge: &str, role| Person {
        employee_id: EmployeeId::from(id),
        last_name: "Doe".to_owned(),
        first_name: id.to_owned(),
        rank: "Trooper".to_owned(),
        role,
        home_site: SiteId::from("SLM"),
        status: PersonStatus::Active,
        badge: BadgeUid::parse(badge).expect("valid badge"),
        hire_date: "2019-03-01".parse().expect("valid date"),
    };
    let officer = person("E40001", "04a1b2c3", Role::Officer);
    let armorer = person("E40002", "04D4E5F6", Role::Armorer);
    let certification = Certification {
        employee_id: officer.employee_id.clone(),
        course_code: "CEW-7".to_owned(),
        class: WeaponClass::Cew,
        completed_on: "2026-01-15".parse().expect("valid date"),
        expires_at: at("2027-01-15T07:59:59.5Z"),
        instructor: armorer.employee_id.clone(),
    };
    let renewal = Certification {
        course_code: "CEW-7R".to_owned(),
        ..certification.clone()
    };

    Personnel {
        certifications: BTreeMap::from([(
            officer.employee_id.clone(),
            vec![certification, renewal],
        )]),
        pin_hashes: BTreeMap::from([(
            officer.employee_id.clone(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        )]),
        people: BTreeMap::from([
            (officer.employee_id.clone(), officer),
            (armorer.employee_id.clone(), armorer),
        ]),
    }
}

/// An opened, seeded database.
fn seeded(path: &std::path::Path) -> Database {
    let mut db = Database::open(path).expect("database opens");
    db.seed(&small_armory(), &small_personnel())
        .expect("seed succeeds");
    db
}

/// A denied sign-out request at `when`, with a fresh event id.
fn denied_entry(when: Timestamp) -> AuditEntry {
    AuditEntry {
        event_id: Some(Uuid::new_v4()),
        at: when,
        site: SiteId::from("SLM"),
        locker: LockerId::from("SLM-L1"),
        reader: Some("R1".into()),
        action: AuditAction::SignOutRequest,
        badge: Some(BadgeUid::parse("04A1B2C3").expect("valid badge")),
        employee_id: Some(EmployeeId::from("E40001")),
        weapon_class: Some(WeaponClass::PatrolRifle),
        asset_tag: None,
        compartment: None,
        decision: Decision::Denied,
        reason: "certification_missing".to_owned(),
        transaction: None,
    }
}

#[test]
fn opening_twice_migrates_once() {
    let (_dir, path) = temp_db();
    drop(Database::open(&path).expect("first open"));
    let db = Database::open(&path).expect("second open");

    let latest = super::schema::latest_version();
    assert_eq!(db.schema_version().expect("version"), latest);
    let migrations: i64 = db
        .connection()
        .query_row("SELECT count(*) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .expect("count");
    assert_eq!(migrations, latest);
    let mode: String = db
        .connection()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let synchronous: i64 = db
        .connection()
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .expect("synchronous");
    assert_eq!(synchronous, 2, "FULL");
}

#[cfg(unix)]
#[test]
fn a_new_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;

    let (_dir, path) = temp_db();
    drop(Database::open(&path).expect("open"));
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    let db = Database::open(&path).expect("open");
    db.connection()
        .execute(
            "INSERT INTO schema_migrations VALUES (99, 'from the future', '2030-01-01T00:00:00Z')",
            [],
        )
        .expect("insert");
    drop(db);

    match Database::open(&path) {
        Err(DbError::SchemaVersion {
            found, expected, ..
        }) => {
            assert_eq!((found, expected), (99, 4));
        }
        other => panic!("expected SchemaVersion, got {other:?}"),
    }
    assert!(matches!(
        Database::open_reader(&path),
        Err(DbError::SchemaVersion { found: 99, .. })
    ));
}

#[test]
fn seed_and_load_round_trip() {
    let (_dir, path) = temp_db();
    let mut db = Database::open(&path).expect("open");
    assert!(db.is_empty().expect("is_empty"));

    db.seed(&small_armory(), &small_personnel()).expect("seed");
    assert!(!db.is_empty().expect("is_empty"));
    assert_eq!(db.load_armory().expect("load armory"), small_armory());
    assert_eq!(
        db.load_personnel().expect("load personnel"),
        small_personnel()
    );

    let again = db.seed(&small_armory(), &small_personnel());
    assert!(matches!(again, Err(DbError::NotEmpty)), "{again:?}");
}

#[test]
fn a_seed_with_an_unknown_time_zone_stores_nothing() {
    let (_dir, path) = temp_db();
    let mut db = Database::open(&path).expect("open");
    let mut armory = small_armory();
    for site in armory.sites.values_mut() {
        site.timezone = "America/Atlantis".to_owned();
    }

    match db.seed(&armory, &small_personnel()) {
        Err(DbError::BadTimezone { site, timezone, .. }) => {
            assert_eq!(
                (site.as_str(), timezone.as_str()),
                ("SLM", "America/Atlantis")
            );
        }
        other => panic!("expected BadTimezone, got {other:?}"),
    }
    assert!(db.is_empty().expect("is_empty"));
}

#[test]
fn a_seed_with_a_dangling_locker_names_the_weapon_and_stores_nothing() {
    let (_dir, path) = temp_db();
    let mut db = Database::open(&path).expect("open");
    let mut armory = small_armory();
    if let Some(weapon) = armory.weapons.get_mut(&AssetTag::from("LL-01002")) {
        weapon.locker = LockerId::from("NOWHERE");
    }

    match db.seed(&armory, &small_personnel()) {
        Err(DbError::Insert { table, key, .. }) => {
            assert_eq!((table, key.as_str()), ("weapons", "LL-01002"));
        }
        other => panic!("expected Insert, got {other:?}"),
    }
    assert!(db.is_empty().expect("is_empty"));
}

#[test]
fn replacing_the_roster_keeps_enrolled_pins() {
    let (_dir, path) = temp_db();
    let mut db = seeded(&path);
    let armorer = EmployeeId::from("E40002");
    db.set_pin_hash(&armorer, "$argon2id$v=19$armorer")
        .expect("enrol");

    let mut roster = small_personnel();
    roster.pin_hashes.clear();
    roster.certifications.clear();
    if let Some(person) = roster.people.get_mut(&armorer) {
        person.status = PersonStatus::Leave;
    }
    db.replace_personnel(&roster).expect("replace");

    let loaded = db.load_personnel().expect("load");
    assert_eq!(loaded.people, roster.people);
    assert!(loaded.certifications.is_empty());
    assert_eq!(loaded.pin_hashes.len(), 2);
    assert_eq!(loaded.pin_hashes[&armorer], "$argon2id$v=19$armorer");
}

#[test]
fn a_pin_for_someone_off_the_roster_is_refused() {
    let (_dir, path) = temp_db();
    let mut db = seeded(&path);
    let result = db.set_pin_hash(&EmployeeId::from("E99999"), "$argon2id$x");
    assert!(
        matches!(&result, Err(DbError::UnknownEmployee { employee_id }) if employee_id == "E99999"),
        "{result:?}"
    );
}

#[test]
fn a_reader_sees_the_data_and_cannot_write() {
    let (_dir, path) = temp_db();
    let _writer = seeded(&path);
    let mut reader = Database::open_reader(&path).expect("reader opens");

    assert_eq!(reader.load_armory().expect("load"), small_armory());
    let write = reader.set_pin_hash(&EmployeeId::from("E40001"), "$argon2id$y");
    // Refused at BEGIN IMMEDIATE: a read-only connection takes no lock.
    assert!(matches!(write, Err(DbError::Sqlite { .. })), "{write:?}");
}

#[test]
fn a_reader_needs_an_existing_database() {
    let (_dir, path) = temp_db();
    assert!(Database::open_reader(&path).is_err());
    assert!(!path.exists(), "a reader must not create the file");
}

#[test]
fn a_corrupt_stored_value_names_table_row_and_column() {
    let (_dir, path) = temp_db();
    let db = seeded(&path);
    db.connection()
        .execute(
            "UPDATE weapons SET class = 'crossbow' WHERE asset_tag = 'LL-01003'",
            [],
        )
        .expect("update");

    match db.load_armory() {
        Err(DbError::Corrupt {
            table, key, column, ..
        }) => assert_eq!(
            (table, key.as_str(), column),
            ("weapons", "LL-01003", "class")
        ),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
