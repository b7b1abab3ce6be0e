//! End to end: `armory weapons due|quarantined|overdue`, run as the real
//! binary against a store that the real store writer filled in a temp
//! dir: a weapon due for service, one quarantined after a problem report,
//! one out past its class's expected return, one out but not yet late,
//! in two lockers of one site and a locker of another site.
//!
//! The overdue view judges against the wall clock, so the sign-outs are
//! placed relative to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use armory::store::{spawn_writer, Database};
use armory_actors::domain::{
    Armory, AssetTag, BadgeUid, CompartmentSize, EmployeeId, Locker, LockerId, Person,
    PersonStatus, Personnel, ReaderKind, Role, ServiceStatus, Site, SiteId, Weapon, WeaponClass,
};
use armory_actors::ports::{
    AuditAction, AuditEntry, Decision, ProblemCode, ProblemNote, Store, WeaponChange,
};
use jiff::{SignedDuration, Timestamp};
use tempfile::TempDir;
use uuid::Uuid;

/// A store with weapons in every view, and a configuration pointing at it.
struct Inventory {
    _dir: TempDir,
    config: PathBuf,
}

fn site(id: &str) -> Site {
    Site {
        id: SiteId::from(id),
        name: id.to_owned(),
        timezone: "America/Los_Angeles".to_owned(),
    }
}

fn locker(site: &str, id: &str) -> Locker {
    Locker {
        site: SiteId::from(site),
        id: LockerId::from(id),
        model: "LK-4".to_owned(),
        compartments: vec![CompartmentSize::Large; 4],
        readers: vec![ReaderKind::BadgePin],
    }
}

fn weapon(tag: &str, class: WeaponClass, locker: &Locker, compartment: u16) -> Weapon {
    Weapon {
        asset_tag: AssetTag::from(tag),
        serial_number: format!("SN-{tag}"),
        make: "Acme".to_owned(),
        model: "M1".to_owned(),
        class,
        site: locker.site.clone(),
        locker: locker.id.clone(),
        compartment,
        status: ServiceStatus::InService,
        sign_outs_since_service: 4,
        total_sign_outs: 40,
        deployments_since_service: 0,
        last_service_date: "2026-06-30".parse().expect("valid date"),
        holder: None,
    }
}

fn officer(id: &str, badge: &str) -> Person {
    Person {
        employee_id: EmployeeId::from(id),
        last_name: "Doe".to_owned(),
        first_name: id.to_owned(),
        rank: "Trooper".to_owned(),
        role: Role::Officer,
        home_site: SiteId::from("SLM"),
        status: PersonStatus::Active,
        badge: BadgeUid::parse(badge).expect("valid badge"),
        hire_date: "2019-03-01".parse().expect("valid date"),
    }
}

/// A weapon's own audit row, as its actor records a change.
fn fact(weapon: &Weapon, action: AuditAction, reason: &str, at: Timestamp) -> AuditEntry {
    AuditEntry {
        event_id: None,
        at,
        site: weapon.site.clone(),
        locker: weapon.locker.clone(),
        reader: None,
        action,
        badge: None,
        employee_id: None,
        weapon_class: Some(weapon.class),
        asset_tag: Some(weapon.asset_tag.clone()),
        compartment: Some(weapon.compartment),
        decision: Decision::Recorded,
        reason: reason.to_owned(),
        transaction: None,
    }
}

fn signed_out(weapon: &Weapon, holder: &str, at: Timestamp) -> (AuditEntry, WeaponChange) {
    let transaction = Uuid::new_v4();
    let mut entry = fact(weapon, AuditAction::SignedOut, "signed_out", at);
    entry.employee_id = Some(EmployeeId::from(holder));
    entry.transaction = Some(transaction);
    let change = WeaponChange::SignedOut {
        asset_tag: weapon.asset_tag.clone(),
        holder: EmployeeId::from(holder),
        transaction,
        at,
    };
    (entry, change)
}

/// SLM-L1: LL-01001 due, LL-01002 quarantined, LL-01003 in service.
/// SLM-L2: LL-01004 out 20 h (a CEW is expected back in 14 h), LL-01005
/// out 1 h, LL-01006 a patrol rifle out 3 h (expected back in 2 h).
/// PDX-L1: LL-01007 due.
fn armory() -> Inventory {
    let (l1, l2, pdx) = (
        locker("SLM", "SLM-L1"),
        locker("SLM", "SLM-L2"),
        locker("PDX", "PDX-L1"),
    );
    let weapons = [
        weapon("LL-01001", WeaponClass::Cew, &l1, 1),
        weapon("LL-01002", WeaponClass::PatrolRifle, &l1, 2),
        weapon("LL-01003", WeaponClass::Cew, &l1, 3),
        weapon("LL-01004", WeaponClass::Cew, &l2, 1),
        weapon("LL-01005", WeaponClass::Cew, &l2, 2),
        weapon("LL-01006", WeaponClass::PatrolRifle, &l2, 3),
        weapon("LL-01007", WeaponClass::Cew, &pdx, 1),
    ];
    let by_tag: BTreeMap<AssetTag, Weapon> = weapons
        .iter()
        .map(|w| (w.asset_tag.clone(), w.clone()))
        .collect();
    let agency = Armory {
        sites: [site("SLM"), site("PDX")]
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect(),
        lockers: [l1, l2, pdx]
            .into_iter()
            .map(|l| (l.id.clone(), l))
            .collect(),
        weapons: by_tag.clone(),
    };
    let people = [
        officer("E40001", "04A1B2C3"),
        officer("E40002", "04D4E5F6"),
        officer("E40003", "04A7A8A9"),
    ];
    let personnel = Personnel {
        people: people
            .into_iter()
            .map(|p| (p.employee_id.clone(), p))
            .collect(),
        ..Personnel::default()
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state folder");
    let mut database = Database::open(&state.join("armory.sqlite3")).expect("store opens");
    database.seed(&agency, &personnel).expect("seed succeeds");

    let now = Timestamp::now();
    let hours_ago = |hours: i64| now - SignedDuration::from_hours(hours);
    let tag = |t: &str| &by_tag[&AssetTag::from(t)];
    let due = |w: &Weapon| {
        let entry = fact(w, AuditAction::ServiceDue, "due_by_sign_outs", hours_ago(2));
        let change = WeaponChange::StatusChanged {
            asset_tag: w.asset_tag.clone(),
            status: ServiceStatus::NeedsService,
        };
        (entry, change)
    };
    let quarantined = {
        let w = tag("LL-01002");
        let mut entry = fact(w, AuditAction::ProblemReport, "malfunction", hours_ago(5));
        entry.employee_id = Some(EmployeeId::from("E40003"));
        let note = ProblemNote {
            code: ProblemCode::Malfunction,
            text: Some("bolt sticks".to_owned()),
            reporter: EmployeeId::from("E40003"),
            at: hours_ago(5),
        };
        let change = WeaponChange::ProblemReported {
            asset_tag: w.asset_tag.clone(),
            note,
        };
        (entry, change)
    };
    let changes = [
        due(tag("LL-01001")),
        quarantined,
        signed_out(tag("LL-01004"), "E40001", hours_ago(20)),
        signed_out(tag("LL-01005"), "E40002", hours_ago(1)),
        signed_out(tag("LL-01006"), "E40003", hours_ago(3)),
        due(tag("LL-01007")),
    ];

    let (store, requests) = Store::channel(8);
    let writer = spawn_writer(database, requests).expect("writer starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (entry, change) in changes {
        runtime
            .block_on(store.commit(entry, Some(change)))
            .expect("commit succeeds");
    }
    drop(store);
    writer.join().expect("writer ends cleanly");

    let config = dir.path().join("armory.toml");
    std::fs::write(&config, config_text(&state)).expect("config written");
    Inventory { _dir: dir, config }
}

/// A configuration with its state in `state`; patrol rifles are expected
/// back in two hours, CEWs keep the default fourteen.
fn config_text(state: &Path) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    format!(
        "[service]\nstate_dir = '{}'\n[broker]\nlisten = '127.0.0.1:0'\nmax_connections = 10\n\
         [metrics]\nenabled = false\nlisten = '127.0.0.1:0'\n[agency]\ndata_dir = '{}'\n\
         [timing]\nunlock_window_seconds = 30\ndoor_open_limit_seconds = 120\n\
         command_lifetime_seconds = 5\n[security]\npin_hash_memory_kib = 64\n\
         pin_hash_iterations = 1\n\
         [maintenance.classes.patrol_rifle]\nexpected_return_hours = 2\n",
        state.display(),
        data.display()
    )
}

impl Inventory {
    /// Runs `armory weapons <args> --config <config>`; its standard output.
    fn weapons(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs `armory weapons <args> --config <config>`.
    fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_armory"))
            .arg("weapons")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("the armory binary runs")
    }

    /// The table's rows, each split into cells, checked against its
    /// header and its closing count.
    fn rows(&self, args: &[&str]) -> Vec<Vec<String>> {
        let table = self.weapons(args);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines.first().is_some_and(|l| l.starts_with("weapon")),
            "{table}"
        );
        let rows: Vec<Vec<String>> = lines[1..lines.len() - 1]
            .iter()
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            lines.last().copied(),
            Some(format!("{} weapon(s)", rows.len()).as_str()),
            "{table}"
        );
        rows
    }

    /// The asset tags a view lists.
    fn tags(&self, args: &[&str]) -> Vec<String> {
        self.rows(args)
            .into_iter()
            .map(|row| row[0].clone())
            .collect()
    }
}

#[test]
fn each_view_lists_its_weapons_by_site_and_locker() {
    let armory = armory();

    // Due: both due weapons; by site and by locker, only the one there.
    assert_eq!(armory.tags(&["due"]), ["LL-01007", "LL-01001"]);
    assert_eq!(armory.tags(&["due", "--site", "SLM"]), ["LL-01001"]);
    assert_eq!(armory.tags(&["due", "--locker", "PDX-L1"]), ["LL-01007"]);
    assert!(armory.tags(&["due", "--locker", "SLM-L2"]).is_empty());
    let due = &armory.rows(&["due", "--site", "SLM"])[0];
    assert_eq!(due[1..6], ["cew", "SLM", "SLM-L1", "1", "needs_service"]);

    // Quarantined: with the open problem's code.
    let quarantined = armory.rows(&["quarantined"]);
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0][0], "LL-01002");
    assert_eq!(quarantined[0][5], "quarantined");
    assert_eq!(
        quarantined[0].last().map(String::as_str),
        Some("malfunction")
    );
    assert!(armory.tags(&["quarantined", "--site", "PDX"]).is_empty());

    // Overdue: the CEW out 20 h and the rifle out 3 h, each past its
    // class's expected return; the CEW out 1 h is not late.
    assert_eq!(armory.tags(&["overdue"]), ["LL-01004", "LL-01006"]);
    assert_eq!(
        armory.tags(&["overdue", "--locker", "SLM-L2"]),
        ["LL-01004", "LL-01006"]
    );
    assert!(armory.tags(&["overdue", "--locker", "SLM-L1"]).is_empty());
    let overdue = armory.rows(&["overdue"]);
    let holders: Vec<&str> = overdue.iter().map(|row| row[9].as_str()).collect();
    assert_eq!(holders, ["E40001", "E40003"]);

    // A site or locker the store does not have is an error, not an empty
    // list that reads as "nothing due".
    for (flag, name) in [("--site", "SLX"), ("--locker", "SLM-L9")] {
        let refused = armory.run(&["due", flag, name]);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(name), "{stderr}");
        assert!(refused.stdout.is_empty());
    }
}
