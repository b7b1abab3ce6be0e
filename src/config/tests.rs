//! Tests of the configuration file: the shipped default reads, and each
//! kind of mistake is named by key, line and column.

use std::path::{Path, PathBuf};

use super::*;

const ORIGIN: &str = "/etc/armory/armory.toml";

/// The default configuration with `from` replaced by `to`.
#[track_caller]
fn default_with(from: &str, to: &str) -> String {
    let text = Config::default_toml();
    assert!(text.contains(from), "the default has no {from:?}");
    text.replacen(from, to, 1)
}

/// The line (1-based) of the first line of `text` that contains `needle`.
#[track_caller]
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.lines().position(|line| line.contains(needle));
    1 + at.unwrap_or_else(|| panic!("no line contains {needle:?}"))
}

#[track_caller]
fn problems(text: &str) -> Vec<ConfigProblem> {
    let error = Config::from_str_at(text, Path::new(ORIGIN)).expect_err("invalid");
    assert!(error.to_string().starts_with(ORIGIN), "{error}");
    error.problems().to_vec()
}

#[test]
fn the_default_configuration_reads() {
    let config = Config::from_str_at(Config::default_toml(), Path::new(ORIGIN))
        .expect("the default is valid");

    assert_eq!(
        config.broker.listen,
        "127.0.0.1:1883".parse().expect("literal")
    );
    assert_eq!(config.broker.max_connections, 1000);
    assert!(config.metrics.enabled);
    assert_eq!(config.metrics.listen.port(), 9464);
    assert_eq!(config.timing.unlock_window(), Duration::from_secs(30));
    assert_eq!(config.timing.door_open_limit(), Duration::from_secs(120));
    assert_eq!(
        config.timing.command_lifetime(),
        jiff::SignedDuration::from_secs(5)
    );
    assert_eq!(config.pin_hash_cost(), PinHashCost::default());
    assert_eq!(
        config.resolved_state_dir(),
        PathBuf::from("/etc/armory/../var/armory")
    );
    assert_eq!(
        config.resolved_data_dir(),
        PathBuf::from("/etc/armory/demo")
    );
}

#[test]
fn the_shipped_file_finds_the_demo_agency() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/armory.toml");
    let config = Config::load(&path).expect("the shipped file is valid");
    assert!(config.resolved_data_dir().join("sites.csv").is_file());
}

#[test]
fn relative_paths_follow_the_file_and_absolute_ones_stay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("site.toml");
    let text = default_with(
        "state_dir = \"../var/armory\"",
        "state_dir = \"/srv/armory\"",
    );
    std::fs::write(&path, text).expect("write config");

    let config = Config::load(&path).expect("valid");
    assert_eq!(config.resolved_state_dir(), PathBuf::from("/srv/armory"));
    assert_eq!(config.resolved_data_dir(), dir.path().join("demo"));
}

#[test]
fn an_unreadable_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.toml");
    let error = Config::load(&path).expect_err("no such file");
    assert!(matches!(error, ConfigError::Unreadable { .. }));
    assert!(error.to_string().contains("absent.toml"), "{error}");
}

#[test]
fn metrics_may_be_switched_off_and_default_to_on() {
    let off = default_with("enabled = true", "enabled = false");
    let config = Config::from_str_at(&off, Path::new(ORIGIN)).expect("valid");
    assert!(!config.metrics.enabled);

    let unsaid = default_with("enabled = true", "");
    let config = Config::from_str_at(&unsaid, Path::new(ORIGIN)).expect("valid");
    assert!(config.metrics.enabled);
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = default_with(
        "max_connections = 1000",
        "max_connections = 1000\ncolour = 1",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "broker.colour");
    assert_eq!(
        (found[0].line, found[0].column),
        (line_of(&text, "colour"), 1)
    );
    assert!(
        found[0].message.contains("unknown field `colour`"),
        "{found:?}"
    );
}

#[test]
fn an_unknown_table_is_named() {
    let text = format!("{}\n[extras]\nx = 1\n", Config::default_toml());
    let found = problems(&text);
    assert_eq!(found[0].key, "extras");
    assert_eq!(found[0].line, line_of(&text, "[extras]"));
}

#[test]
fn a_missing_key_is_named() {
    let text = default_with("max_connections = 1000", "");
    let found = problems(&text);
    assert_eq!(found[0].key, "broker.max_connections");
    assert_eq!(found[0].line, line_of(&text, "[broker]"));
    assert!(found[0].message.contains("missing field"), "{found:?}");
}

#[test]
fn a_missing_table_is_named() {
    let default = Config::default_toml();
    let security = default
        .find("[security]")
        .expect("the default has [security]");
    let without = &default[..security];
    let found = problems(without);
    assert_eq!(found[0].key, "security");
    assert!(
        found[0].message.contains("missing field `security`"),
        "{found:?}"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let text = default_with(
        "unlock_window_seconds = 30",
        "unlock_window_seconds = \"30s\"",
    );
    let found = problems(&text);
    assert_eq!(found[0].key, "timing.unlock_window_seconds");
    let line = line_of(&text, "unlock_window_seconds");
    assert_eq!((found[0].line, found[0].column), (line, 25));
}

#[test]
fn a_bad_address_is_named() {
    let text = default_with("listen = \"127.0.0.1:1883\"", "listen = \"localhost\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "broker.listen");
    assert_eq!(
        (found[0].line, found[0].column),
        (line_of(&text, "localhost"), 10)
    );
    assert!(found[0].message.contains("\"localhost\""), "{found:?}");
}

#[test]
fn every_problem_with_the_values_is_reported_at_once() {
    let text = default_with(
        "listen = \"127.0.0.1:9464\"",
        "listen = \"127.0.0.1:99999\"",
    );
    let text = text.replacen("unlock_window_seconds = 30", "unlock_window_seconds = 0", 1);
    let text = text.replacen("pin_hash_iterations = 2", "pin_hash_iterations = 0", 1);

    let error = Config::from_str_at(&text, Path::new(ORIGIN)).expect_err("invalid");
    let found = error.problems();
    let keys: Vec<&str> = found.iter().map(|problem| problem.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "metrics.listen",
            "timing.unlock_window_seconds",
            "security.pin_hash_iterations"
        ]
    );
    let shown = error.to_string();
    let line = line_of(&text, "unlock_window_seconds");
    let expected = format!("{ORIGIN}:{line}:25: timing.unlock_window_seconds: 0 is not");
    assert!(shown.contains(&expected), "{shown}");
    assert_eq!(shown.lines().count(), 3, "{shown}");
}

#[test]
fn a_syntax_error_is_located() {
    let text = default_with("data_dir = \"demo\"", "data_dir = \"demo");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, line_of(&text, "data_dir"));
    assert_eq!(found[0].key, "agency.data_dir");
}
