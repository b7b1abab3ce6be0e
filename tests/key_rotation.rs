//! Key provisioning and rotation, through the real `armory` binary and a
//! running service:
//!
//! - `armory keys locker ID` prints exactly that locker's key on standard
//!   output, and refuses an id that is not one;
//! - `armory keys rotate` keeps the old secret as retired and refuses a
//!   second rotation during the grace period;
//! - both refuse a state folder that others may enter, as `serve` does;
//! - `armory broker hash-password` prints a user entry whose hash checks;
//! - after a rotation, lockers still on the old key log in and their
//!   events are decided, but they ignore the service's commands (sealed
//!   under the new key); once the grace period is over, their logins and
//!   events are refused.

#[path = "support/harness.rs"]
mod harness;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use armory::keyfile;
use armory::serve::Service;
use armory_actors::clock::Clock;
use armory_actors::domain::{LockerId, Person, PersonStatus, Role, ServiceStatus, WeaponClass};
use armory_actors::import::AgencyData;
use armory_actors::protocol::{AccessRequest, FleetSecret};
use armory_device_sim::{SimConfig, Simulator};
use harness::Observer;
use jiff::SignedDuration;

fn armory(args: &[&str], config: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_armory"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armory runs");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).expect("stdin written");
    drop(input);
    child.wait_with_output().expect("armory exits")
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = harness::test_config(&dir.join("state"));
    std::fs::create_dir_all(config.resolved_state_dir()).expect("state folder");
    let path = dir.join("armory.toml");
    let text = format!(
        "[service]\nstate_dir = \"{}\"\n[broker]\nlisten = \"127.0.0.1:0\"\n\
         max_connections = 10\n[metrics]\nlisten = \"127.0.0.1:0\"\nenabled = false\n\
         [agency]\ndata_dir = \"{}\"\n[timing]\nunlock_window_seconds = 30\n\
         door_open_limit_seconds = 120\ncommand_lifetime_seconds = 5\n[security]\n\
         pin_hash_memory_kib = 64\npin_hash_iterations = 1\n",
        config.resolved_state_dir().display(),
        harness::demo_data_dir().display()
    );
    std::fs::write(&path, text).expect("config written");
    path
}

fn private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let owner_only = std::fs::Permissions::from_mode(0o700);
        std::fs::set_permissions(path, owner_only).expect("chmod");
    }
}

/// An active officer with a PIN, certified at `now` for a class that has
/// a weapon in `locker`.
fn officer_at(
    agency: &AgencyData,
    locker: &str,
    now: jiff::Timestamp,
) -> (Person, WeaponClass, String) {
    let locker = LockerId::from(locker);
    let classes: Vec<WeaponClass> = agency
        .armory
        .weapons
        .values()
        .filter(|w| w.locker == locker && w.status == ServiceStatus::InService)
        .map(|w| w.class)
        .collect();
    for person in agency.personnel.people.values() {
        if person.status != PersonStatus::Active || person.role != Role::Officer {
            continue;
        }
        let Some((_, pin)) = agency.pins.iter().find(|(e, _)| *e == person.employee_id) else {
            continue;
        };
        let certifications = agency.personnel.certifications_of(&person.employee_id);
        let certified = classes.iter().find(|class| {
            certifications
                .iter()
                .any(|c| c.class == **class && now <= c.expires_at)
        });
        if let Some(class) = certified {
            return (person.clone(), *class, pin.clone());
        }
    }
    panic!("no certified officer for {locker}");
}

#[test]
fn the_key_commands_print_rotate_and_hash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path());
    let state = dir.path().join("state");
    private(&state);
    let secret = keyfile::load_or_create(&state.join(keyfile::FLEET_KEY)).expect("made");

    let printed = armory(&["keys", "locker", "SLM-L1"], &config, "");
    assert!(printed.status.success(), "{printed:?}");
    let expected = secret.locker_key(&LockerId::from("SLM-L1")).to_hex();
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout),
        format!("{expected}\n")
    );
    assert!(String::from_utf8_lossy(&printed.stderr).contains("warning"));
    let refused = armory(&["keys", "locker", "SLM L1/#"], &config, "");
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty());

    let rotated = armory(&["keys", "rotate"], &config, "");
    assert!(rotated.status.success(), "{rotated:?}");
    let retired = keyfile::load_retired(&state.join(keyfile::RETIRED_FLEET_KEY))
        .expect("readable")
        .expect("kept");
    assert_eq!(retired.secret.to_hex(), secret.to_hex());
    let again = armory(&["keys", "rotate"], &config, "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let hashed = Command::new(env!("CARGO_BIN_EXE_armory"))
        .args(["broker", "hash-password", "--name", "wall-screen"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let mut input = child.stdin.take().expect("piped stdin");
            input.write_all(b"a rather long password\n")?;
            drop(input);
            child.wait_with_output()
        })
        .expect("armory runs");
    assert!(hashed.status.success(), "{hashed:?}");
    let entry = String::from_utf8(hashed.stdout).expect("UTF-8");
    assert!(entry.starts_with("[[broker.users]]\nname = \"wall-screen\"\n"));
    assert!(!entry.contains("a rather long password"));
    let text = format!("{}\n{entry}", armory::config::Config::default_toml());
    let parsed = armory::config::Config::from_str_at(&text, Path::new("/etc/armory.toml"))
        .expect("the printed entry is valid configuration");
    assert_eq!(parsed.broker.users[0].name, "wall-screen");
}

/// `serve` refuses a state folder others may enter; so do the key
/// commands, before they print or write a key.
#[cfg(unix)]
#[test]
fn the_key_commands_refuse_a_state_folder_others_can_enter() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path());
    let state = dir.path().join("state");
    private(&state);
    keyfile::load_or_create(&state.join(keyfile::FLEET_KEY)).expect("made");
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(&state, open).expect("chmod");

    for command in [&["keys", "locker", "SLM-L1"][..], &["keys", "rotate"][..]] {
        let refused = armory(command, &config, "");
        assert!(!refused.status.success(), "{command:?}: {refused:?}");
        assert!(refused.stdout.is_empty(), "{command:?} printed a key");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let folder = state.display().to_string();
        assert!(
            stderr.contains("open to others") && stderr.contains(&folder),
            "{command:?}: {stderr}"
        );
    }
    assert!(
        !state.join(keyfile::RETIRED_FLEET_KEY).exists(),
        "nothing rotated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockers_on_the_retired_key_are_heard_until_the_grace_period_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = harness::test_config(&dir.path().join("state"));
    let state = config.resolved_state_dir();
    std::fs::create_dir_all(&state).expect("state folder");
    private(&state);
    let old: FleetSecret = keyfile::load_or_create(&state.join(keyfile::FLEET_KEY)).expect("made");
    let now = harness::DATA_NOW.parse().expect("instant");
    let grace = SignedDuration::try_from(config.security.retired_key_grace).expect("in range");
    keyfile::rotate(&state, now, grace, false).expect("rotated");

    let clock = Clock::manual(now);
    let service = Service::start(&config, clock.clone())
        .await
        .expect("service starts");
    assert_ne!(service.fleet_secret().to_hex(), old.to_hex());
    let broker = service.broker_address();
    let observer = Observer::start(broker, "test-observer", "armory/#").await;

    // Controllers still provisioned with the old key log in and are heard.
    let agency = AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data");
    let mut sim_config = SimConfig::new(broker, old.clone(), agency.clone());
    sim_config.handling_delay = (Duration::ZERO, Duration::ZERO);
    sim_config.outcome_timeout = Duration::from_secs(2);
    sim_config.clock = clock.clone();
    let sim = Simulator::start(sim_config)
        .await
        .expect("old-key lockers log in");
    observer
        .wait_until("SLM-L1 online", |seen| {
            seen.iter().any(|s| {
                s.topic == "armory/v1/SLM/SLM-L1/state" && s.json()["controller"] == "online"
            })
        })
        .await;

    // Their scan (PIN sealed under the old key) is decided and audited,
    // but they refuse the answer, sealed under the new key.
    let (officer, class, pin) = officer_at(&agency, "SLM-L1", clock.now());
    let answered = sim
        .scan(
            &LockerId::from("SLM-L1"),
            &harness::TestArmory::reader("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await;
    assert!(answered.is_err() || !answered.as_ref().is_ok_and(|o| o.granted()));
    observer
        .wait_until("the decision", |seen| {
            seen.iter().any(|s| s.topic.ends_with("/activity"))
        })
        .await;
    let stats = sim.stats().await;
    assert!(
        stats.commands_refused.get("bad_tag").copied().unwrap_or(0) >= 1,
        "{stats:?}"
    );
    assert_eq!(stats.commands_accepted, 0, "{stats:?}");
    sim.shutdown().await;

    // After the grace period the old password no longer logs in.
    clock.advance(grace + SignedDuration::from_secs(1));
    let mut late = SimConfig::new(broker, old, agency);
    late.connect_timeout = Duration::from_secs(2);
    late.clock = clock.clone();
    assert!(Simulator::start(late).await.is_err(), "old key after grace");

    observer.stop().await;
    service.stop().await;
}
