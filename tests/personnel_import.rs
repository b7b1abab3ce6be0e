//! Personnel changes reach a running service without a restart: a roster
//! import through the CLI suspends an officer, a training file dropped in
//! the watched inbox renews a certification, a new PIN opens and the old
//! one stops. Faulty files are refused with every fault named by file, line
//! and column, and change nothing. Store-level tests cover the tolerant
//! reading of real exports and what an import keeps and drops.

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use armory::config::Config;
use armory::personnel::{
    self, ImportOptions, ImportWarning, PersonnelError, PersonnelPayload, RemovalLimit,
};
use armory::serve::Service;
use armory::store::{AuditFilter, Database};
use armory_actors::clock::Clock;
use armory_actors::domain::{BadgeUid, EmployeeId, LockerId, WeaponClass};
use armory_actors::import::{AgencyData, ImportError};
use armory_actors::ports::{AuditAction, Decision};
use armory_actors::protocol::AccessRequest;
use armory_actors::rules::PinHashCost;
use armory_device_sim::{SimConfig, Simulator};
use harness::{demo_data_dir, Observer, TestArmory, DATA_NOW};
use jiff::Timestamp;

const PERSONNEL_TOPIC: &str = "armory/v1/service/personnel";
/// Imports as the inbox makes them: the default removal limit, applied.
const DEFAULTS: ImportOptions = ImportOptions {
    removal_limit: RemovalLimit::DEFAULT,
    allow_removals: false,
    dry_run: false,
};
const CHEAP: PinHashCost = PinHashCost {
    memory_kib: 64,
    iterations: 1,
};

/// The harness's armory, with a watched inbox and a 50 ms poll period.
async fn start_watched() -> (TestArmory, PathBuf) {
    let clock = Clock::manual(DATA_NOW.parse().expect("valid instant"));
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    // The service creates its state folder owner-only.
    let mut config = harness::test_config(&dir.path().join("state"));
    config.agency.inbox_dir = Some(inbox.clone());
    config.agency.poll_interval = Duration::from_millis(50);

    let service = Service::start(&config, clock.clone())
        .await
        .expect("service starts");
    let observer = Observer::start(service.broker_address(), "test-observer", "armory/#").await;
    let agency = AgencyData::load_dir(&demo_data_dir()).expect("demo data imports");
    let mut sim_config = SimConfig::new(
        service.broker_address(),
        service.fleet_secret().clone(),
        agency.clone(),
    );
    sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
    sim_config.clock = clock.clone();
    let sim = Simulator::start(sim_config)
        .await
        .expect("simulator starts");
    let armory = TestArmory {
        dir,
        service,
        sim,
        observer,
        clock,
        agency,
    };
    (armory, inbox)
}

/// A configuration file for the CLI, on the armory's state folder.
fn cli_config(armory: &TestArmory) -> PathBuf {
    let state = armory.service.database_path().parent().expect("state dir");
    let text = Config::default_toml().replacen(
        "state_dir = \"../var/armory\"",
        &format!("state_dir = \"{}\"", state.display()),
        1,
    );
    assert!(
        text.contains(&state.display().to_string()),
        "state_dir replaced"
    );
    let path = armory.dir.path().join("cli.toml");
    std::fs::write(&path, text).expect("write CLI config");
    path
}

/// Runs `armory ARGS...` as the binary would, in this process.
async fn armory_cli(args: &[&str]) -> anyhow::Result<()> {
    use clap::Parser as _;
    let cli =
        armory::cli::Cli::try_parse_from(std::iter::once("armory").chain(args.iter().copied()))
            .expect("the command line parses");
    armory::cli::run(cli.command).await
}

/// Waits until the service has published `generation` (or a later one).
async fn wait_generation(armory: &TestArmory, generation: u64) -> PersonnelPayload {
    let reached = |seen: &harness::Seen| {
        seen.topic == PERSONNEL_TOPIC && seen.json()["generation"].as_u64() >= Some(generation)
    };
    armory
        .observer
        .wait_until("personnel generation", |seen| seen.iter().any(reached))
        .await;
    let seen = armory.observer.matching(reached);
    let last = seen.last().expect("seen above");
    serde_json::from_slice(&last.payload).expect("a PersonnelPayload")
}

/// Scans at SLM-L1 R1 (badge and PIN) for a sign-out; the reason shown.
async fn sign_out(armory: &TestArmory, badge: &BadgeUid, pin: &str, class: WeaponClass) -> String {
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L1"),
            &TestArmory::reader("R1"),
            badge,
            Some(pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("scan answered");
    outcome.reason().expect("an outcome was shown").to_owned()
}

fn demo_file(name: &str) -> String {
    std::fs::read_to_string(demo_data_dir().join(name)).expect("demo file reads")
}

/// `text` with the line of `employee` changed by `edit`.
fn edit_line(text: &str, employee: &EmployeeId, edit: impl Fn(&str) -> String) -> String {
    let prefix = format!("{employee},");
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with(&prefix) {
                found = true;
                edit(line)
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(found, "{employee} has a line");
    lines.join("\n") + "\n"
}

/// The raw fields of one line of the demo files: split at commas outside
/// quotes, quotes kept (no field there spans lines).
fn raw_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                fields.push(String::new());
                continue;
            }
            _ => {}
        }
        fields.last_mut().expect("one field at least").push(c);
    }
    fields
}

/// `text` with field `index` of line `line` (1 = header) set to `value`.
fn set_field(text: &str, line: usize, index: usize, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut fields = raw_fields(&lines[line - 1]);
    fields[index] = value.to_owned();
    lines[line - 1] = fields.join(",");
    lines.join("\n") + "\n"
}

fn located(errors: &[ImportError]) -> Vec<(String, usize, Option<String>)> {
    errors
        .iter()
        .map(|e| (e.file.clone(), e.line, e.column.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_import_suspends_an_officer_in_the_running_service() {
    let (armory, _inbox) = start_watched().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let config = cli_config(&armory);

    let roster = edit_line(&demo_file("roster.csv"), &officer.employee_id, |line| {
        line.replace(",active,", ",suspended,")
    });
    let file = armory.dir.path().join("roster-suspension.csv");
    std::fs::write(&file, roster).expect("write roster");
    let args = ["import", "roster", path(&file), "--config", path(&config)];
    armory_cli(&args).await.expect("the roster imports");

    let payload = wait_generation(&armory, 1).await;
    assert_eq!((payload.added, payload.removed, payload.changed), (0, 0, 1));
    assert_eq!(payload.people, 612);
    let reason = sign_out(&armory, &officer.badge, &pin, class).await;
    assert_eq!(reason, "person_suspended");

    // A dashboard that subscribes later gets the generation in force.
    let broker = armory.service.broker_address();
    let late = Observer::start(broker, "late-personnel", PERSONNEL_TOPIC).await;
    late.wait_until("retained personnel", |seen| {
        seen.iter().any(|s| s.retain && s.json()["generation"] == 1)
    })
    .await;
    late.stop().await;

    // The import is in the trail, chained with the access decisions.
    let db = armory.database();
    let imports: Vec<_> = armory
        .service_audit()
        .into_iter()
        .filter(|row| row.entry.action == AuditAction::Import)
        .collect();
    assert_eq!(imports.len(), 1);
    let entry = &imports[0].entry;
    assert_eq!(
        (entry.site.as_str(), entry.locker.as_str()),
        ("service", "service")
    );
    assert_eq!(
        (entry.decision, entry.reason.as_str()),
        (Decision::Recorded, "roster_imported")
    );
    assert_eq!(entry.employee_id, None);
    // The configuration row, the import, the denied sign-out.
    assert_eq!(db.verify_audit().expect("the chain holds"), 3);
    armory.stop().await;
}

fn path(file: &Path) -> &str {
    file.to_str().expect("temp paths are UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_renews_a_certification_and_rejects_a_faulty_file() {
    let (armory, inbox) = start_watched().await;

    // E40004's CEW certification expired on 2026-10-30.
    let grace = armory.agency.personnel.people[&EmployeeId::from("E40004")].clone();
    let pin = armory.pin_of(&grace);
    let reason = sign_out(&armory, &grace.badge, &pin, WeaponClass::Cew).await;
    assert_eq!(reason, "certification_expired");

    // A faulty export first, then the renewal: the faulty one is handled
    // no later than the good one, whose effect is what we wait for.
    let training = demo_file("training.csv");
    let faulty = set_field(&training, 3, 2, "taser");
    std::fs::write(inbox.join("training-faulty.csv"), faulty).expect("write");
    let renewed = training.replace(
        "E40004,LL-CEW-RECERT,cew,2025-10-31,2026-10-30T23:59:59Z",
        "E40004,LL-CEW-RECERT,cew,2026-12-01,2027-11-30T23:59:59Z",
    );
    assert_ne!(renewed, training);
    std::fs::write(inbox.join("training-renewal.csv"), renewed).expect("write");

    let payload = wait_generation(&armory, 1).await;
    assert_eq!(payload.generation, 1, "the faulty file applied nothing");
    assert_eq!((payload.added, payload.removed, payload.changed), (0, 0, 1));
    let reason = sign_out(&armory, &grace.badge, &pin, WeaponClass::Cew).await;
    assert_eq!(reason, "granted");

    // Both files left the inbox: one done, one rejected with its errors.
    assert!(inbox.join("done/training-renewal.csv").is_file());
    assert!(inbox.join("rejected/training-faulty.csv").is_file());
    let errors = std::fs::read_to_string(inbox.join("rejected/training-faulty.csv.errors.txt"))
        .expect("the errors file is beside the rejected one");
    assert!(
        errors.starts_with("training-faulty.csv:3: column weapon_class: "),
        "{errors}"
    );
    assert!(!inbox.join("training-faulty.csv").exists());
    assert!(!inbox.join("training-renewal.csv").exists());
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_files_name_every_fault_and_change_nothing() {
    let (armory, _inbox) = start_watched().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let config = cli_config(&armory);

    // A roster that would suspend the officer, with a fault of each kind
    // on lines that are not the officer's.
    let roster = edit_line(&demo_file("roster.csv"), &officer.employee_id, |line| {
        line.replace(",active,", ",suspended,")
    });
    let officer_line = 1 + roster
        .lines()
        .position(|l| l.starts_with(officer.employee_id.as_str()))
        .expect("officer's line");
    let lines: Vec<usize> = (10..).filter(|n| *n != officer_line).take(4).collect();
    let first_badge = raw_fields(roster.lines().nth(1).expect("a row")).swap_remove(7);
    let first_badge = first_badge.as_str();
    let roster = set_field(&roster, lines[0], 7, first_badge);
    let roster = set_field(&roster, lines[1], 4, "sheriff");
    let roster = set_field(&roster, lines[2], 8, "2014-02-30");
    let roster = set_field(&roster, lines[3], 5, "NOWHERE");
    let roster_file = armory.dir.path().join("roster-faulty.csv");
    std::fs::write(&roster_file, roster).expect("write");

    let args = [
        "import",
        "roster",
        path(&roster_file),
        "--config",
        path(&config),
    ];
    let error = armory_cli(&args).await.expect_err("refused");
    let Some(PersonnelError::Invalid { errors, .. }) = error.downcast_ref() else {
        panic!("expected the file's faults, got {error:#}");
    };
    let name = path(&roster_file).to_owned();
    let at = |line, column: &str| (name.clone(), line, Some(column.to_owned()));
    assert_eq!(
        located(&errors.0),
        vec![
            at(lines[0], "badge_uid"),
            at(lines[1], "role"),
            at(lines[2], "hire_date"),
            at(lines[3], "home_site"),
        ],
        "{errors}"
    );
    assert!(errors.0[0].message.contains("duplicate"), "{errors}");
    assert!(
        !errors.to_string().contains(first_badge),
        "no badge UID in errors"
    );

    // A training export with an unknown employee, class and a bad date.
    let training = demo_file("training.csv");
    let training = set_field(&training, 5, 0, "E99999");
    let training = set_field(&training, 6, 2, "taser");
    let training = set_field(&training, 7, 4, "2027-13-01T00:00:00Z");
    let training_file = armory.dir.path().join("training-faulty.csv");
    std::fs::write(&training_file, training).expect("write");
    let args = [
        "import",
        "training",
        path(&training_file),
        "--config",
        path(&config),
    ];
    let error = armory_cli(&args).await.expect_err("refused");
    let Some(PersonnelError::Invalid { errors, .. }) = error.downcast_ref() else {
        panic!("expected the file's faults, got {error:#}");
    };
    let name = path(&training_file).to_owned();
    let at = |line, column: &str| (name.clone(), line, Some(column.to_owned()));
    assert_eq!(
        located(&errors.0),
        vec![
            at(5, "employee_id"),
            at(6, "weapon_class"),
            at(7, "expires_at")
        ],
        "{errors}"
    );

    // Nothing moved: the store's generation, and the officer still draws.
    let db = armory.database();
    assert_eq!(db.personnel_generation().expect("generation"), 0);
    assert_eq!(
        sign_out(&armory, &officer.badge, &pin, class).await,
        "granted"
    );
    assert!(armory
        .all_audit()
        .iter()
        .all(|row| row.entry.action != AuditAction::Import));
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pin_opens_and_the_old_one_no_longer_does() {
    let (armory, _inbox) = start_watched().await;
    let (officer, class, old_pin) = armory.officer_for("SLM-L1", &[]);
    let new_pin = if old_pin == "24681357" {
        "13572468"
    } else {
        "24681357"
    };

    let mut db = personnel::open_store(armory.service.database_path()).expect("writer opens");
    let at = armory.clock.now();
    let generation = personnel::enrol_pin(&mut db, &officer.employee_id, new_pin, CHEAP, at)
        .expect("PIN enrolled");
    assert_eq!(generation, 1);
    let payload = wait_generation(&armory, 1).await;
    assert_eq!(payload.changed, 1);

    assert_eq!(
        sign_out(&armory, &officer.badge, &old_pin, class).await,
        "wrong_pin"
    );
    assert_eq!(
        sign_out(&armory, &officer.badge, new_pin, class).await,
        "granted"
    );

    // The trail records the enrolment, never the PIN.
    let rows = armory.audit(&AuditFilter {
        employee_id: Some(officer.employee_id.clone()),
        ..AuditFilter::default()
    });
    assert_eq!(rows[0].entry.action, AuditAction::PinEnrolled);
    assert_eq!(rows[0].entry.reason, "pin_enrolled");
    let unknown = personnel::enrol_pin(&mut db, &EmployeeId::from("E99999"), "1234", CHEAP, at);
    assert!(matches!(
        unknown,
        Err(PersonnelError::UnknownEmployee { .. })
    ));
    let bad = personnel::enrol_pin(&mut db, &officer.employee_id, "12a4", CHEAP, at);
    let bad = bad.expect_err("not digits");
    assert!(!bad.to_string().contains("12a4"), "{bad}");
    armory.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_holder_keeps_their_weapon_and_warns() {
    let (armory, _inbox) = start_watched().await;
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    assert_eq!(
        sign_out(&armory, &officer.badge, &pin, class).await,
        "granted"
    );
    armory.wait_activity("signed_out", 1).await;

    let roster: String = demo_file("roster.csv")
        .lines()
        .filter(|line| !line.starts_with(&format!("{},", officer.employee_id)))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut db = personnel::open_store(armory.service.database_path()).expect("writer opens");
    let now = armory.clock.now();
    let report = personnel::import_roster(&mut db, "roster.csv", roster.as_bytes(), now, &DEFAULTS)
        .expect("the roster imports");
    assert_eq!(report.changes.removed, vec![officer.employee_id.clone()]);
    assert_eq!(
        report.changes.pins_dropped,
        vec![officer.employee_id.clone()]
    );
    let [ImportWarning::HolderRemoved {
        employee_id,
        asset_tags,
    }] = report.warnings.as_slice()
    else {
        panic!("one warning expected: {:?}", report.warnings);
    };
    assert_eq!(employee_id, &officer.employee_id);
    let weapon = armory
        .database()
        .weapon(&asset_tags[0])
        .expect("query")
        .expect("the weapon is still on record");
    assert_eq!(weapon.holder.as_ref(), Some(&officer.employee_id));

    let payload = wait_generation(&armory, 1).await;
    assert_eq!((payload.people, payload.removed), (611, 1));
    assert_eq!(
        sign_out(&armory, &officer.badge, &pin, class).await,
        "unknown_badge"
    );
    armory.stop().await;
}

/// A store seeded with the demo agency, two PINs enrolled, no service.
fn seeded_store() -> (tempfile::TempDir, Database, AgencyData) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = Database::open(&dir.path().join("armory.sqlite3")).expect("store opens");
    let mut agency = AgencyData::load_dir(&demo_data_dir()).expect("demo data imports");
    for id in ["E40004", "E40008"] {
        let phc = format!("$argon2id$v=19$fake-{id}");
        agency
            .personnel
            .pin_hashes
            .insert(EmployeeId::from(id), phc);
    }
    db.seed(&agency.armory, &agency.personnel).expect("seeded");
    (dir, db, agency)
}

/// Rewrites a CSV export the way real ones arrive: a byte-order mark, CRLF,
/// spaces around fields, every field of column `quoted` in quotes, column
/// `lower` in lower case, and blank lines at the end.
fn messy(text: &str, quoted: usize, lower: Option<usize>) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    for (at, line) in text.lines().enumerate() {
        let fields: Vec<String> = raw_fields(line)
            .into_iter()
            .enumerate()
            .map(|(index, field)| match (at, index) {
                (0, _) => format!(" {field} "),
                (_, _) if field.starts_with('"') => format!(" {field}  "),
                (_, i) if i == quoted => format!("  \"{field}\" "),
                (_, i) if Some(i) == lower => format!(" {}", field.to_lowercase()),
                _ => format!("{field}  "),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out.push_str("\r\n  \r\n,,\r\n");
    out.into_bytes()
}

#[test]
fn real_world_exports_import_unchanged() {
    let (_dir, mut db, agency) = seeded_store();
    let at: Timestamp = DATA_NOW.parse().expect("valid instant");

    let roster = messy(&demo_file("roster.csv"), 1, Some(7));
    let report =
        personnel::import_roster(&mut db, "roster.csv", &roster, at, &DEFAULTS).expect("imports");
    assert_eq!(
        report.changes,
        personnel::PersonnelDiff::default(),
        "{report}"
    );
    let training = messy(&demo_file("training.csv"), 1, None);
    let report = personnel::import_training(&mut db, "training.csv", &training, at, &DEFAULTS)
        .expect("imports");
    assert_eq!(
        report.changes,
        personnel::PersonnelDiff::default(),
        "{report}"
    );
    assert_eq!(report.generation, 2);

    let mut expected = agency.personnel.clone();
    let stored = db.load_personnel().expect("load");
    expected
        .certifications
        .values_mut()
        .for_each(|c| c.sort_by_key(|c| c.course_code.clone()));
    let mut got = stored.clone();
    got.certifications
        .values_mut()
        .for_each(|c| c.sort_by_key(|c| c.course_code.clone()));
    assert_eq!(got, expected);
    assert_eq!(db.verify_audit().expect("the chain holds"), 2);
}

#[test]
fn a_roster_import_keeps_what_stays_and_drops_what_leaves() {
    let (_dir, mut db, agency) = seeded_store();
    let at: Timestamp = DATA_NOW.parse().expect("valid instant");
    let leaver = EmployeeId::from("E40008");
    let stayer = EmployeeId::from("E40004");
    let roster = demo_file("roster.csv");
    let roster: String = roster
        .lines()
        .filter(|line| !line.starts_with("E40008,"))
        .map(|line| format!("{line}\n"))
        .collect();
    let roster = edit_line(&roster, &stayer, |line| {
        line.replace(",officer,", ",supervisor,")
    });

    let report = personnel::import_roster(&mut db, "roster.csv", roster.as_bytes(), at, &DEFAULTS)
        .expect("imports");
    assert_eq!(report.changes.removed, vec![leaver.clone()]);
    assert_eq!(report.changes.changed.len(), 1);
    assert_eq!(report.changes.changed[0].fields, vec!["role"]);
    let leaver_certs = agency.personnel.certifications_of(&leaver).len();
    assert_eq!(report.changes.certifications.removed, leaver_certs);
    assert_eq!(report.changes.pins_dropped, vec![leaver.clone()]);
    assert!(report.warnings.is_empty());
    let printed = report.to_string();
    assert!(printed.contains("removed: E40008"), "{printed}");
    assert!(printed.contains("E40004 (role)"), "{printed}");

    let stored = db.load_personnel().expect("load");
    assert!(!stored.people.contains_key(&leaver));
    assert_eq!(stored.pin_hashes.len(), 1, "the leaver's PIN hash is gone");
    assert!(stored.pin_hashes.contains_key(&stayer));
    assert_eq!(
        stored.certifications_of(&stayer).len(),
        agency.personnel.certifications_of(&stayer).len()
    );
    assert_eq!(db.personnel_generation().expect("generation"), 1);

    // An empty export would remove everyone: refused, nothing changes.
    let header =
        "employee_id,last_name,first_name,rank,role,home_site,status,badge_uid,hire_date\n";
    let empty = personnel::import_roster(&mut db, "empty.csv", header.as_bytes(), at, &DEFAULTS);
    assert!(
        matches!(empty, Err(PersonnelError::Invalid { .. })),
        "{empty:?}"
    );
    assert_eq!(db.personnel_generation().expect("generation"), 1);
    assert_eq!(db.load_personnel().expect("load"), stored);
}

#[test]
fn the_inbox_and_poll_interval_keys_are_read_and_checked() {
    let text = Config::default_toml()
        .replacen("# inbox_dir = \"inbox\"", "inbox_dir = \"inbox\"", 1)
        .replacen("# poll_interval_ms = 2000", "poll_interval_ms = 250", 1);
    let config = Config::from_str_at(&text, Path::new("/etc/armory/armory.toml")).expect("valid");
    assert_eq!(
        config.resolved_inbox_dir(),
        Some(PathBuf::from("/etc/armory/inbox"))
    );
    assert_eq!(config.agency.poll_interval, Duration::from_millis(250));

    let default =
        Config::from_str_at(Config::default_toml(), Path::new("/etc/a.toml")).expect("valid");
    assert_eq!(default.resolved_inbox_dir(), None);
    assert_eq!(default.agency.poll_interval, Duration::from_secs(2));

    let bad = text.replacen("poll_interval_ms = 250", "poll_interval_ms = 0", 1);
    let error = Config::from_str_at(&bad, Path::new("/etc/armory/armory.toml"))
        .expect_err("0 ms is refused");
    let problem = &error.problems()[0];
    assert_eq!(problem.key, "agency.poll_interval_ms");
    let line = 1 + bad
        .lines()
        .position(|l| l.starts_with("poll_interval_ms"))
        .expect("line");
    assert_eq!((problem.line, problem.column), (line, 20));
}
