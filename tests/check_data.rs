//! `armory check-data DIR` through the binary: the demo agency checks out
//! with its counts; a copy with two faults names each by file, line and
//! column, counts them, and exits non-zero.

#[path = "support/harness.rs"]
mod harness;

use std::process::Command;

fn check_data(dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_armory"))
        .arg("check-data")
        .arg(dir)
        .output()
        .expect("armory runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_demo_agency_checks_out() {
    let (ok, text) = check_data(&harness::demo_data_dir());
    assert!(ok, "{text}");
    assert!(
        text.starts_with("ok: 34 sites, 52 lockers, 906 weapons, 612 people"),
        "{text}"
    );
}

#[test]
fn faults_are_counted_and_named_by_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(harness::demo_data_dir()).expect("demo data") {
        let entry = entry.expect("demo file");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copied");
    }

    // Line 3 of the roster gets an impossible hire date; line 2 of the
    // training export a weapon class nobody issues.
    let roster = dir.path().join("roster.csv");
    let text = std::fs::read_to_string(&roster).expect("roster");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replace(
        lines[2].rsplit(',').next().expect("a hire date"),
        "2014-13-45",
    );
    std::fs::write(&roster, lines.join("\n") + "\n").expect("roster written");
    let training = dir.path().join("training.csv");
    let text = std::fs::read_to_string(&training).expect("training");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let fields: Vec<&str> = lines[1].split(',').collect();
    let mut changed: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    changed[2] = "flamethrower".to_owned();
    lines[1] = changed.join(",");
    std::fs::write(&training, lines.join("\n") + "\n").expect("training written");

    let (ok, text) = check_data(dir.path());
    assert!(!ok, "{text}");
    assert!(text.contains("problem"), "{text}");
    assert!(text.contains("roster.csv:3"), "{text}");
    assert!(text.contains("2014-13-45"), "{text}");
    assert!(text.contains("training.csv:2"), "{text}");
    assert!(text.contains("flamethrower"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
