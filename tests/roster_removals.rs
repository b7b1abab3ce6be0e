//! A short roster must not wipe out the agency: an import that would remove
//! more people than `[agency] max_roster_removals` /
//! `max_roster_removal_percent` allow is refused whole from the command
//! line (and only `--allow-removals` applies it), rejected by the watched
//! inbox, and `--dry-run` shows what a roster would change without
//! applying it. A short training export is held to the same limit,
//! counting the people it would take a valid certification from. A
//! refusal writes nothing: no people, no certifications, no generation,
//! no audit row.

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use armory::config::Config;
use armory::personnel::{PersonnelError, PersonnelPayload, RemovalLimit};
use armory::serve::Service;
use armory::store::{AuditFilter, Database};
use armory_actors::clock::Clock;
use armory_actors::domain::EmployeeId;
use armory_actors::import::AgencyData;
use armory_actors::ports::AuditAction;
use harness::{demo_data_dir, Observer, TestSettings, DATA_NOW};

const PERSONNEL_TOPIC: &str = "armory/v1/service/personnel";

/// A configuration file in `dir` (state in `dir/state`) with `agency`
/// keys added to its `[agency]` table, and a store seeded from the demo
/// agency with two PIN hashes, as a running service would have left it.
fn seeded(dir: &Path, agency: &str) -> (PathBuf, Database) {
    let path = harness::write_config_file(dir, &TestSettings::default());
    let text = std::fs::read_to_string(&path).expect("config reads");
    let text = text.replacen("[agency]\n", &format!("[agency]\n{agency}\n"), 1);
    std::fs::write(&path, text).expect("config writes");
    let config = Config::load(&path).expect("the configuration is valid");

    let state = config.resolved_state_dir();
    std::fs::create_dir_all(&state).expect("state folder");
    let mut db = Database::open(&state.join("armory.sqlite3")).expect("store opens");
    let mut agency = AgencyData::load_dir(&demo_data_dir()).expect("demo data imports");
    for id in ["E40004", "E40008"] {
        let phc = format!("$argon2id$v=19$fake-{id}");
        agency
            .personnel
            .pin_hashes
            .insert(EmployeeId::from(id), phc);
    }
    db.seed(&agency.armory, &agency.personnel).expect("seeded");
    (path, db)
}

/// The demo roster's header and its first `people` rows.
fn short_roster(people: usize) -> String {
    let roster = std::fs::read_to_string(demo_data_dir().join("roster.csv")).expect("reads");
    roster
        .lines()
        .take(1 + people)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The demo training export's header and its first `rows` rows, every
/// certification expiring in 2099 so that it is valid whatever the day.
fn lasting_training(rows: usize) -> String {
    let training = std::fs::read_to_string(demo_data_dir().join("training.csv")).expect("reads");
    let mut lines = training.lines();
    let header = lines.next().expect("a header");
    assert!(header.ends_with("expires_at,instructor_id"), "{header}");
    let mut text = format!("{header}\n");
    for line in lines.take(rows) {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields[4] = "2099-12-31T23:59:59Z";
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// Runs `armory ARGS...` as the binary would, in this process.
async fn armory_cli(args: &[&str]) -> anyhow::Result<()> {
    use clap::Parser as _;
    let cli =
        armory::cli::Cli::try_parse_from(std::iter::once("armory").chain(args.iter().copied()))
            .expect("the command line parses");
    armory::cli::run(cli.command).await
}

fn path(file: &Path) -> &str {
    file.to_str().expect("temp paths are UTF-8")
}

fn import_rows(db: &Database) -> usize {
    let rows = db
        .audit_rows(&AuditFilter::default())
        .expect("the trail reads");
    rows.iter()
        .filter(|row| row.entry.action == AuditAction::Import)
        .count()
}

#[tokio::test]
async fn a_short_roster_is_refused_unless_removals_are_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, db) = seeded(dir.path(), "");
    let before = db.load_personnel().expect("load");
    assert_eq!(before.people.len(), 612);
    let file = dir.path().join("roster-partial.csv");
    std::fs::write(&file, short_roster(10)).expect("write roster");
    let import = |extra: &'static str| {
        let mut args = vec!["import", "roster", path(&file), "--config", path(&config)];
        args.extend(extra.split_whitespace());
        args
    };

    // Refused whole, with the count and the way forward.
    let error = armory_cli(&import("")).await.expect_err("refused");
    let Some(PersonnelError::TooManyRemovals { refusal, .. }) = error.downcast_ref() else {
        panic!("expected a refusal of the removals, got {error:#}");
    };
    assert_eq!((refusal.removed.len(), refusal.in_force), (602, 612));
    assert_eq!(refusal.allowed, 61);
    let text = format!("{error:#}");
    assert!(text.starts_with(path(&file)), "{text}");
    for needed in [
        "would remove 602 of the 612 people",
        "the larger of 25 people and 10% of the roster",
        "--dry-run",
        "--allow-removals",
        "and 592 more",
    ] {
        assert!(text.contains(needed), "{needed:?} missing from: {text}");
    }
    assert_eq!(db.personnel_generation().expect("generation"), 0);
    assert_eq!(db.load_personnel().expect("load"), before);
    assert_eq!(import_rows(&db), 0, "a refused import is not in the trail");

    // A dry run shows the change and applies nothing.
    armory_cli(&import("--dry-run")).await.expect("a dry run");
    assert_eq!(db.personnel_generation().expect("generation"), 0);
    assert_eq!(db.load_personnel().expect("load"), before);
    assert_eq!(import_rows(&db), 0, "a dry run is not in the trail");

    // The explicit flag applies it, audited like any import.
    armory_cli(&import("--allow-removals"))
        .await
        .expect("applied with the flag");
    assert_eq!(db.personnel_generation().expect("generation"), 1);
    let after = db.load_personnel().expect("load");
    assert_eq!(after.people.len(), 10);
    assert_eq!(import_rows(&db), 1);
    assert_eq!(db.verify_audit().expect("the chain holds"), 1);
}

#[tokio::test]
async fn a_short_training_export_is_refused_unless_removals_are_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, db) = seeded(dir.path(), "");
    let import = |file: &Path, extra: &str| {
        let mut args = vec!["import", "training", path(file), "--config", path(&config)];
        args.extend(extra.split_whitespace());
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        armory_cli(&args).await
    };

    // The demo export again takes nothing away; nor do renewals.
    let demo = demo_data_dir().join("training.csv");
    run(import(&demo, ""))
        .await
        .expect("the demo export again is accepted");
    assert_eq!(db.personnel_generation().expect("generation"), 1);
    let lasting = dir.path().join("training-lasting.csv");
    std::fs::write(&lasting, lasting_training(usize::MAX)).expect("write");
    run(import(&lasting, ""))
        .await
        .expect("renewing every certification is accepted");
    assert_eq!(db.personnel_generation().expect("generation"), 2);
    let before = db.load_personnel().expect("load");
    assert_eq!(before.people.len(), 612);

    // A truncated export: refused whole, with the count and the way forward.
    let short = dir.path().join("training-partial.csv");
    std::fs::write(&short, lasting_training(100)).expect("write");
    let error = run(import(&short, "")).await.expect_err("refused");
    let Some(PersonnelError::TooManyRemovals { refusal, .. }) = error.downcast_ref() else {
        panic!("expected a refusal of the removals, got {error:#}");
    };
    let losing = refusal.removed.len();
    assert_eq!((refusal.in_force, refusal.allowed), (612, 61));
    assert!(losing > 500, "{losing} people lose a certification");
    let text = format!("{error:#}");
    assert!(text.starts_with(path(&short)), "{text}");
    for needed in [
        format!("would take a valid certification from {losing} of the 612 people"),
        format!("and {} more", losing - 10),
        "armory import training FILE --dry-run".to_owned(),
        "armory import training FILE --allow-removals".to_owned(),
    ] {
        assert!(text.contains(&needed), "{needed:?} missing from: {text}");
    }
    assert_eq!(db.personnel_generation().expect("generation"), 2);
    assert_eq!(db.load_personnel().expect("load"), before);
    assert_eq!(import_rows(&db), 2, "a refused import is not in the trail");

    // A dry run applies nothing; the explicit flag applies it.
    run(import(&short, "--dry-run")).await.expect("a dry run");
    assert_eq!(db.load_personnel().expect("load"), before);
    run(import(&short, "--allow-removals"))
        .await
        .expect("applied with the flag");
    assert_eq!(db.personnel_generation().expect("generation"), 3);
    let after = db.load_personnel().expect("load");
    let held: usize = after.certifications.values().map(Vec::len).sum();
    assert_eq!(held, 100);
    assert_eq!(import_rows(&db), 3);
}

#[tokio::test]
async fn the_configured_limit_applies_and_small_changes_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let agency = "max_roster_removals = 1\nmax_roster_removal_percent = 0";
    let (config, db) = seeded(dir.path(), agency);
    let loaded = Config::load(&config).expect("valid");
    assert_eq!(
        loaded.agency.roster_removal_limit,
        RemovalLimit {
            people: 1,
            percent: 0
        }
    );

    let one_less = dir.path().join("roster-one-less.csv");
    std::fs::write(&one_less, short_roster(611)).expect("write");
    let args = [
        "import",
        "roster",
        path(&one_less),
        "--config",
        path(&config),
    ];
    armory_cli(&args)
        .await
        .expect("one removal is within the limit");
    assert_eq!(db.personnel_generation().expect("generation"), 1);

    let two_less = dir.path().join("roster-two-less.csv");
    std::fs::write(&two_less, short_roster(609)).expect("write");
    let args = [
        "import",
        "roster",
        path(&two_less),
        "--config",
        path(&config),
    ];
    let error = armory_cli(&args).await.expect_err("two is over the limit");
    assert!(
        format!("{error:#}").contains("would remove 2 of the 611 people"),
        "{error:#}"
    );
    assert_eq!(db.personnel_generation().expect("generation"), 1);
}

#[test]
fn the_removal_keys_are_documented_and_checked() {
    let default = Config::default_toml();
    assert!(default.contains("# max_roster_removals = 25\n"));
    assert!(default.contains("# max_roster_removal_percent = 10\n"));
    let config = Config::from_str_at(default, Path::new("/etc/a.toml")).expect("valid");
    assert_eq!(config.agency.roster_removal_limit, RemovalLimit::DEFAULT);

    let bad = default.replacen(
        "# max_roster_removal_percent = 10",
        "max_roster_removal_percent = 101",
        1,
    );
    let error = Config::from_str_at(&bad, Path::new("/etc/a.toml")).expect_err("over 100");
    assert_eq!(error.problems()[0].key, "agency.max_roster_removal_percent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_rejects_a_mass_removal_and_applies_nothing_of_it() {
    let clock = Clock::manual(DATA_NOW.parse().expect("valid instant"));
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    let mut config = harness::test_config(&dir.path().join("state"));
    config.agency.inbox_dir = Some(inbox.clone());
    config.agency.poll_interval = Duration::from_millis(50);
    let service = Service::start(&config, clock).await.expect("starts");
    let observer = Observer::start(service.broker_address(), "test-observer", "armory/#").await;

    // The short roster and a short training export, then a training export
    // that applies: rosters are taken first, then the oldest file, so once
    // the full training is in force both short files were handled.
    std::fs::write(inbox.join("roster-partial.csv"), short_roster(10)).expect("write");
    std::fs::write(inbox.join("training-partial.csv"), lasting_training(100)).expect("write");
    let training = std::fs::read(demo_data_dir().join("training.csv")).expect("reads");
    std::fs::write(inbox.join("training.csv"), training).expect("write");
    let reached = |seen: &harness::Seen| {
        seen.topic == PERSONNEL_TOPIC && seen.json()["generation"].as_u64() >= Some(1)
    };
    observer
        .wait_until("personnel generation 1", |seen| seen.iter().any(reached))
        .await;
    let seen = observer.matching(reached);
    let payload: PersonnelPayload =
        serde_json::from_slice(&seen[0].payload).expect("a PersonnelPayload");
    assert_eq!((payload.generation, payload.people), (1, 612));
    assert_eq!(payload.removed, 0);

    assert!(inbox.join("rejected/roster-partial.csv").is_file());
    assert!(inbox.join("done/training.csv").is_file());
    let errors = std::fs::read_to_string(inbox.join("rejected/roster-partial.csv.errors.txt"))
        .expect("the reason is beside the rejected roster");
    assert!(
        errors.starts_with("roster-partial.csv was not applied: it would remove 602 of the 612"),
        "{errors}"
    );
    assert!(errors.contains("--allow-removals"), "{errors}");
    assert!(
        errors.contains("The inbox never applies such a roster"),
        "{errors}"
    );
    let errors = std::fs::read_to_string(inbox.join("rejected/training-partial.csv.errors.txt"))
        .expect("the reason is beside the rejected training export");
    assert!(
        errors.starts_with(
            "training-partial.csv was not applied: it would take a valid certification from"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("The inbox never applies such a training export"),
        "{errors}"
    );

    let db = Database::open_reader(service.database_path()).expect("reads");
    assert_eq!(import_rows(&db), 1, "only the training import");
    observer.stop().await;
    service.stop().await;
}
