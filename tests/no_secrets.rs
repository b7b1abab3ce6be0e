//! No PIN and no full badge id in the log, the console or `/metrics` of a
//! whole shift.
//!
//! Runs the real `armory demo` (30 sign-outs and their returns) against a
//! temp state folder with the armory crates logging at debug level,
//! scrapes `/metrics` over HTTP once the shift is over, stops the demo
//! with SIGINT, and then searches everything it wrote for the PIN and the
//! badge id of every person the audit trail says took part.
//!
//! A PIN (six digits) counts as found only where it is not part of a
//! longer run of hex digits, and not right after a `.`, so that a uuid,
//! a hash, or the microseconds of a log timestamp cannot match by chance.
//! A badge id (hex) counts where it is not part of a longer hex run.

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use armory::store::{AuditFilter, Database};
use armory_actors::import::AgencyData;

/// `GET /metrics` over plain HTTP/1.1.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("metrics listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// Where `needle` occurs in `haystack` as a whole token: not inside a
/// longer run of hex digits, and (for digits) not after a `.`.
fn occurrences(haystack: &str, needle: &str) -> Vec<String> {
    let upper = haystack.to_ascii_uppercase();
    let needle = needle.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find(&needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        let joined = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit() || b == b'.');
        if !joined(before) && !after.is_some_and(|b| b.is_ascii_hexdigit()) {
            let line_start = upper[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = upper[end..].find('\n').map_or(upper.len(), |i| end + i);
            found.push(haystack[line_start..line_end].to_owned());
        }
        from = start + 1;
    }
    found
}

#[test]
fn a_shift_leaves_no_pin_or_badge_id_in_logs_or_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics_port = harness::free_port();
    let settings = harness::TestSettings {
        metrics_listen: Some(format!("127.0.0.1:{metrics_port}")),
        ..harness::TestSettings::default()
    };
    let config = harness::write_config_file(dir.path(), &settings);

    let mut demo = Command::new(env!("CARGO_BIN_EXE_armory"))
        .args([
            "demo",
            "--sign-outs",
            "30",
            "--concurrency",
            "6",
            "--config",
        ])
        .arg(&config)
        .env(
            "RUST_LOG",
            "warn,armory=debug,armory_actors=debug,armory_device_sim=debug",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armory demo starts");

    // Collect both streams on their own threads; the console lines also
    // go to a channel, to know when the shift is over.
    let stdout = demo.stdout.take().expect("piped stdout");
    let stderr = demo.stderr.take().expect("piped stderr");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let console = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut all);
        all
    });

    let over = loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains("keeps running") => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    let metrics = if over {
        scrape(metrics_port)
    } else {
        String::new()
    };
    let stopped = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let status = demo.wait().expect("the demo exits");
    let console = console.join().expect("stdout reader");
    let log = log.join().expect("stderr reader");
    assert!(over, "the shift did not finish:\n{console}\n{log}");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        metrics.contains("armory_access_decisions_total"),
        "{metrics}"
    );
    assert!(log.contains("armory running"), "{log}");
    assert!(
        log.lines().count() > 100,
        "too little was logged to tell:\n{log}"
    );

    // Who took part, from the audit trail.
    let store = Database::open_reader(&dir.path().join("state/armory.sqlite3")).expect("store");
    let rows = store.audit_rows(&AuditFilter::default()).expect("audit");
    let people: BTreeSet<_> = rows
        .iter()
        .filter_map(|row| row.entry.employee_id.clone())
        .collect();
    assert!(people.len() >= 10, "only {} people took part", people.len());

    let agency = AgencyData::load_dir(&harness::demo_data_dir()).expect("demo data");
    let everything = format!("{console}\n{log}\n{metrics}");
    let mut leaks = Vec::new();
    for employee in &people {
        let person = &agency.personnel.people[employee];
        let badge = person.badge.reveal();
        for line in occurrences(&everything, badge) {
            leaks.push(format!("badge of {employee}: {line}"));
        }
        let pins = agency.pins.iter().filter(|(id, _)| id == employee);
        for (_, pin) in pins {
            for line in occurrences(&everything, pin) {
                leaks.push(format!("PIN of {employee}: {line}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets in the output:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn the_matcher_finds_tokens_and_ignores_longer_runs() {
    let text = "pin=963737\nat 14:00:00.963737Z\nid 0963737a\nbadge 618c664a\nx618C664AB";
    assert_eq!(occurrences(text, "963737"), ["pin=963737"]);
    assert_eq!(occurrences(text, "618C664A"), ["badge 618c664a"]);
}
