//! The newcomer's view: `armory demo` on the demo agency plays a shift of
//! at least 100 sign-outs and returns to the end, and a plain
//! `mosquitto_sub -t 'armory/#'` watching it (as the demo's banner says)
//! sees live state, activity and commands, none of the commands retained.
//!
//! Runs the real binary with the demo's own dashboard login on a free
//! broker port and a temp state folder; the PIN hashes are cheap so the
//! first start does not spend its time in argon2.

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use armory::store::{AuditFilter, Database};
use armory_actors::import::AgencyData;
use armory_actors::ports::{AuditAction, Decision};

/// The demo's shift when run as the README says: 120 sign-outs, each
/// followed by its return.
const PLANNED: usize = 120;

/// What a newcomer must see complete at the least.
const SIGN_OUTS: usize = 100;

/// `mosquitto_sub` on the whole namespace, as the README shows it, with
/// the retain flag first on each line: `1 topic payload`.
/// It writes to a file: a pipe nobody reads while the shift runs would
/// fill, stall the subscriber and make the broker drop its messages.
fn watch_everything(port: u16, into: &Path) -> Child {
    let output = std::fs::File::create(into).expect("watch file created");
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-u", "dashboard", "-P", "armory-demo-dashboard"])
        .args([
            "-i",
            "demo-shift-watcher",
            "-t",
            "armory/#",
            "-F",
            "%r %t %p",
        ])
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs (apt-get install mosquitto-clients)")
}

/// One line of the summary table: `label   value`.
fn summary_value(console: &str, label: &str) -> Option<usize> {
    console
        .lines()
        .find(|line| line.starts_with(label))
        .and_then(|line| line[label.len()..].trim().parse().ok())
}

/// A message mosquitto_sub printed.
struct Watched {
    retained: bool,
    topic: String,
    payload: serde_json::Value,
}

fn parse_watched(output: &str) -> Vec<Watched> {
    output
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let retained = parts.next()? == "1";
            let topic = parts.next()?.to_owned();
            let payload = serde_json::from_str(parts.next()?).unwrap_or(serde_json::Value::Null);
            Some(Watched {
                retained,
                topic,
                payload,
            })
        })
        .collect()
}

#[test]
fn the_demo_plays_a_whole_shift_that_mosquitto_sub_can_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The demo's own dashboard login, as the README shows it: no other.
    let broker_port = harness::free_port();
    let settings = harness::TestSettings {
        broker_listen: format!("127.0.0.1:{broker_port}"),
        observer_user: false,
        ..harness::TestSettings::default()
    };
    let config = harness::write_config_file(dir.path(), &settings);

    let mut demo = Command::new(env!("CARGO_BIN_EXE_armory"))
        .args(["demo", "--exit"])
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armory demo starts");

    // The console goes to a channel line by line; the log is kept whole.
    let stdout = demo.stdout.take().expect("piped stdout");
    let stderr = demo.stderr.take().expect("piped stderr");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut all);
        all
    });

    // The banner tells how to watch; from then on the broker takes logins.
    let watch_file = dir.path().join("watched.txt");
    let mut console = String::new();
    let mut watcher = None;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(120)) {
        if line.contains("watch it live") && watcher.is_none() {
            watcher = Some(watch_everything(broker_port, &watch_file));
        }
        console.push_str(&line);
        console.push('\n');
    }
    let status = demo.wait().expect("the demo exits");
    let log = log.join().expect("stderr reader");

    // The watcher has seen all it will; stop it and read what it printed.
    // SIGTERM, not SIGKILL: mosquitto_sub then flushes what it buffered.
    let watcher = watcher.expect("the demo printed how to watch it");
    let stopped = Command::new("kill")
        .args(["-TERM", &watcher.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let watched = watcher.wait_with_output().expect("mosquitto_sub output");
    let watcher_errors = String::from_utf8_lossy(&watched.stderr).into_owned();
    let watched = std::fs::read(&watch_file).expect("watch file");
    let watched = parse_watched(&String::from_utf8_lossy(&watched));
    assert!(
        watched.len() > SIGN_OUTS,
        "mosquitto_sub saw {} messages: {watcher_errors}",
        watched.len()
    );

    // The shift ran to the end.
    assert!(status.success(), "{status:?}\n{console}\n{log}");
    // Officers ask for a class without knowing what is left, so at a busy
    // locker one may find none: that planned sign-out ends as a denial.
    let completed = summary_value(&console, "sign-outs completed").unwrap_or(0);
    let none_left = summary_value(&console, "  no_weapon_available").unwrap_or(0);
    assert!(completed >= SIGN_OUTS, "{console}");
    assert_eq!(completed + none_left, PLANNED, "{console}");
    assert_eq!(
        summary_value(&console, "returns completed"),
        Some(completed),
        "{console}"
    );
    assert_eq!(
        summary_value(&console, "outcome timeouts"),
        Some(0),
        "{console}"
    );
    assert_eq!(
        summary_value(&console, "deliberate denials granted"),
        Some(0),
        "{console}"
    );

    // The trail agrees with the summary.
    let store = Database::open_reader(&dir.path().join("state/armory.sqlite3")).expect("store");
    let rows = store.audit_rows(&AuditFilter::default()).expect("audit");
    let recorded = |action| {
        rows.iter()
            .filter(|row| row.entry.action == action && row.entry.decision == Decision::Recorded)
            .count()
    };
    let mut tally = std::collections::BTreeMap::new();
    for row in &rows {
        let key = format!(
            "{} {} {}",
            row.entry.action.as_str(),
            row.entry.decision.as_str(),
            row.entry.reason
        );
        *tally.entry(key).or_insert(0) += 1;
    }
    assert_eq!(
        recorded(AuditAction::SignedOut),
        completed,
        "{tally:#?}\n{console}"
    );
    assert_eq!(recorded(AuditAction::Returned), completed, "{tally:#?}");

    // What mosquitto_sub saw: live state and activity of the shift, and
    // the commands to the lockers, never retained.
    let activity = |kind: &str| {
        watched
            .iter()
            .filter(|w| w.topic.ends_with("/activity") && w.payload["kind"] == kind)
            .count()
    };
    assert!(
        activity("signed_out") >= SIGN_OUTS * 9 / 10,
        "only {} sign-outs seen live",
        activity("signed_out")
    );
    assert!(activity("returned") >= SIGN_OUTS * 9 / 10);
    let live_weapon_state = watched
        .iter()
        .filter(|w| !w.retained && w.topic.contains("/state/weapon/"))
        .filter(|w| w.payload["condition"] == "signed_out")
        .count();
    assert!(
        live_weapon_state >= SIGN_OUTS * 9 / 10,
        "{live_weapon_state}"
    );
    // Every locker and weapon of the agency, as the broker replayed its
    // retained state on subscribing or as the service published it.
    let agency = AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data");
    let weapon_states = watched
        .iter()
        .filter(|w| w.topic.contains("/state/weapon/"))
        .map(|w| w.topic.as_str())
        .collect::<BTreeSet<_>>();
    assert_eq!(weapon_states.len(), agency.armory.weapons.len());
    let locker_states = watched
        .iter()
        .filter(|w| w.topic.ends_with("/state") && w.payload["locker"].is_string())
        .map(|w| w.topic.as_str())
        .collect::<BTreeSet<_>>();
    assert_eq!(locker_states.len(), agency.armory.lockers.len());
    assert!(
        watched.iter().filter(|w| w.retained).count() > 1_000,
        "the broker replayed little retained state to a late subscriber"
    );
    let commands: Vec<_> = watched
        .iter()
        .filter(|w| w.topic.contains("/command/"))
        .collect();
    assert!(commands.len() >= SIGN_OUTS * 9 / 10);
    assert!(
        commands.iter().all(|w| !w.retained),
        "a command was retained"
    );
}
