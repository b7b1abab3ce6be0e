//! End to end: `armory audit verify`, `query` and `export`, run as the real
//! binary against a trail that the real store writer committed in a temp
//! dir. The trail sits in a Pacific-time site across the night daylight
//! time ends, where the wall clock runs through 01:00-02:00 twice.

#[path = "audit_cli/trail.rs"]
mod trail;

use trail::{config_text, csv_records, text, trail, PIN_HASH, TAMPER_MARK};

const TRUE_ORDER: [(&str, &str); 6] = [
    ("1", "2026-11-01T01:50:00-07:00"),
    ("2", "2026-11-01T01:50:14-07:00"),
    ("3", "2026-11-01T01:05:00-08:00"),
    ("4", "2026-11-01T01:30:00-08:00"),
    ("5", "2026-11-01T01:30:09-08:00"),
    ("6", "2026-11-02T09:00:00-08:00"),
];

#[test]
fn query_and_exports_list_the_repeated_hour_in_true_order() {
    let trail = trail();

    // The table: header, then one aligned line per row, oldest first.
    let table = trail.stdout(&["query"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[0].starts_with("seq  local_time"), "{table}");
    let shown: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|line| {
            let mut cells = line.split_whitespace();
            (
                cells.next().unwrap_or_default(),
                cells.next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(shown, TRUE_ORDER);
    let first = "1 2026-11-01T01:50:00-07:00 SLM SLM-L1 R1 sign_out_request …B2C3 E40001 cew \
                 LL-01001 1 granted granted";
    assert!(
        lines[1].split_whitespace().eq(first.split_whitespace()),
        "{table}"
    );
    let reason_column = lines[0].find("reason").expect("a reason column");
    assert!(lines[1..]
        .iter()
        .all(|line| line.chars().count() > reason_column));

    // The CSV export: every column, the stored UTC instant, in true order.
    let export = trail.stdout(&["export", "--format", "csv"]);
    let records = csv_records(&export);
    let header = "seq,at_utc,local_time,site,locker,reader,action,badge_uid,employee_id,\
                  weapon_class,asset_tag,compartment,decision,reason,transaction,event_id,\
                  prev_hash,row_hash";
    assert_eq!(export.lines().next(), Some(header));
    let listed: Vec<(&str, &str)> = records[1..].iter().map(|r| (&r[0], &r[2])).collect();
    assert_eq!(listed, TRUE_ORDER);
    assert_eq!(&records[1][1], "2026-11-01T08:50:00.000000000Z");
    assert_eq!(&records[4][1], "2026-11-01T09:30:00.000000000Z");
    assert_eq!(&records[1][7], "04A1B2C3");
    assert_eq!(&records[6][13], "door_forced: \"rear\" panel, bay 2");
    assert_eq!(&records[2][7], "", "a weapon's own record has no badge");

    // The JSON Lines export: the same rows, absent values as null.
    let jsonl = trail.stdout(&["export", "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let listed: Vec<(String, &str)> = rows
        .iter()
        .map(|row| {
            (
                row["seq"].to_string(),
                row["local_time"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let expected: Vec<(String, &str)> = TRUE_ORDER
        .iter()
        .map(|(seq, local)| (seq.to_string(), *local))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(rows[3]["at_utc"], "2026-11-01T09:30:00.000000000Z");
    assert_eq!(rows[3]["compartment"], 1);
    assert_eq!(rows[1]["badge_uid"], serde_json::Value::Null);
    assert_eq!(rows[1]["prev_hash"], rows[0]["row_hash"]);
}

#[test]
fn verify_passes_then_names_a_row_changed_in_the_file() {
    let trail = trail();
    let verified = trail.stdout(&["verify"]);
    let newest = trail.stdout(&[
        "export",
        "--format",
        "jsonl",
        "--since",
        "2026-11-02T00:00:00Z",
    ]);
    let newest: serde_json::Value = serde_json::from_str(newest.trim()).expect("one row");
    assert_eq!(
        verified,
        format!(
            "ok: 6 rows, chain intact\nnewest row: seq 6, row_hash {}\n",
            newest["row_hash"].as_str().unwrap_or_default()
        )
    );

    // Fold the WAL into the main file, so that the row's bytes are there.
    let connection = rusqlite::Connection::open(&trail.database).expect("open");
    connection
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(connection);

    // Row 3's reason, `not_certified`, becomes `not_certifiee`.
    let mut bytes = std::fs::read(&trail.database).expect("read the file");
    let mark = TAMPER_MARK.as_bytes();
    let found: Vec<usize> = bytes
        .windows(mark.len())
        .enumerate()
        .filter(|(_, window)| *window == mark)
        .map(|(position, _)| position)
        .collect();
    assert_eq!(found.len(), 1, "the reason is stored once, as is");
    bytes[found[0] + mark.len() - 1] = b'e';
    std::fs::write(&trail.database, bytes).expect("write the file");

    let broken = trail.audit(&["verify"]);
    assert!(!broken.status.success());
    let stderr = text(&broken.stderr);
    assert!(stderr.contains("audit trail broken at row 3"), "{stderr}");
    assert!(stderr.contains("content"), "{stderr}");
    assert!(text(&broken.stdout).is_empty());

    // The export still writes the evidence, but does not pass it as sound.
    let out = trail.dir.path().join("tampered.csv");
    let exported = trail.audit(&["export", "--format", "csv", "--out", &out.to_string_lossy()]);
    assert!(!exported.status.success());
    let stderr = text(&exported.stderr);
    assert!(
        stderr.contains("wrote 6 rows") && stderr.contains("row 3"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&out).expect("the export was written");
    assert!(written.contains("not_certifiee"));
}

#[test]
fn filters_select_exactly_the_expected_rows() {
    let trail = trail();
    assert_eq!(trail.seqs(&[]), [1, 2, 3, 4, 5, 6]);
    assert_eq!(trail.seqs(&["--person", "E40002"]), [3]);
    assert_eq!(trail.seqs(&["--person", "E40001"]), [1, 2, 4, 5]);
    assert_eq!(trail.seqs(&["--decision", "granted"]), [1, 4]);
    assert_eq!(trail.seqs(&["--decision", "denied"]), [3]);
    assert_eq!(trail.seqs(&["--decision", "recorded"]), [2, 5, 6]);
    assert_eq!(
        trail.seqs(&["--weapon", "LL-01001", "--decision", "recorded"]),
        [2, 5]
    );
    assert_eq!(
        trail.seqs(&["--locker", "SLM-L1", "--site", "SLM"]),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(trail.seqs(&["--site", "PDX"]), Vec::<i64>::new());

    // A window given in the site's offset: since is inclusive, until is not.
    let window = [
        "--since",
        "2026-11-01T01:50:14-07:00",
        "--until",
        "2026-11-01T09:30:00Z",
    ];
    assert_eq!(trail.seqs(&window), [2, 3]);
    assert_eq!(
        trail.seqs(&["--since", "2026-11-01T01:30:00-08:00"]),
        [4, 5, 6]
    );

    // The export takes the same filters; CSV keeps its header when empty.
    let export = trail.stdout(&["export", "--format", "csv", "--person", "E40002"]);
    let records = csv_records(&export);
    assert_eq!(records.len(), 2);
    assert_eq!(&records[1][0], "3");
    let empty = trail.stdout(&["export", "--format", "csv", "--site", "PDX"]);
    assert_eq!(csv_records(&empty).len(), 1);
}

#[test]
fn bad_filter_values_are_errors_naming_the_flag_and_the_value() {
    let trail = trail();
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["query", "--decision", "maybe"],
            &["--decision", "maybe", "granted"],
        ),
        (
            &["export", "--format", "csv", "--decision", "Allowed"],
            &["--decision", "Allowed"],
        ),
        (
            &["query", "--since", "yesterday"],
            &["--since", "yesterday", "RFC 3339"],
        ),
        (
            &["query", "--until", "2026-11-01T01:30:00"],
            &["--until", "2026-11-01T01:30:00"],
        ),
        (
            &[
                "query",
                "--since",
                "2026-11-02T00:00:00Z",
                "--until",
                "2026-11-01T00:00:00Z",
            ],
            &[
                "--since 2026-11-02T00:00:00Z",
                "--until 2026-11-01T00:00:00Z",
            ],
        ),
    ];
    for (args, named) in cases {
        let output = trail.audit(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = text(&output.stderr);
        for word in named {
            assert!(stderr.contains(word), "{args:?}: {word:?} not in {stderr}");
        }
        assert!(output.stdout.is_empty(), "{args:?} wrote rows");
    }

    let missing = trail.audit(&["query", "--format", "xml"]);
    assert!(text(&missing.stderr).contains("xml"));
}

#[test]
fn the_table_shows_fingerprints_and_no_output_shows_a_pin() {
    let trail = trail();
    let table = trail.stdout(&["query"]);
    let view_csv = trail.stdout(&["query", "--format", "csv"]);
    let view_jsonl = trail.stdout(&["query", "--format", "jsonl"]);
    for view in [&table, &view_csv, &view_jsonl] {
        assert!(view.contains("…B2C3") && view.contains("…E5F6"), "{view}");
        assert!(
            !view.contains("04A1B2C3") && !view.contains("04D4E5F6"),
            "{view}"
        );
    }

    // The export carries the credential id, and still nothing of a PIN.
    let export = trail.stdout(&["export", "--format", "jsonl"]);
    assert!(export.contains("\"badge_uid\":\"04A1B2C3\""));
    for output in [&table, &view_csv, &view_jsonl, &export] {
        assert!(
            !output.contains("argon2") && !output.contains(PIN_HASH),
            "{output}"
        );
        assert!(!output.to_lowercase().contains("pin"), "{output}");
    }
}

#[test]
fn an_export_file_is_new_and_owner_only() {
    let trail = trail();
    let out = trail.dir.path().join("inspection.jsonl");
    let path = out.to_string_lossy().into_owned();
    let output = trail.audit(&["export", "--format", "jsonl", "--out", &path]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).is_empty());
    assert!(text(&output.stderr).contains("exported 6 rows"));
    let written = std::fs::read_to_string(&out).expect("export written");
    assert_eq!(written.lines().count(), 6);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A second export never overwrites the first.
    let again = trail.audit(&["export", "--format", "csv", "--out", &path]);
    assert!(!again.status.success());
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains(&path) && stderr.contains("already exists"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).expect("still there"), written);
}

#[test]
fn a_missing_store_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("armory.toml");
    std::fs::write(&config, config_text(dir.path())).expect("config written");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_armory"))
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .expect("the armory binary runs");
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("no store at") && stderr.contains("armory.sqlite3"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("armory.sqlite3").exists(),
        "verify created a store"
    );
}
