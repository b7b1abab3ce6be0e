//! Names the service exposes and names the monitoring files use: metric
//! and label names read from the service's sources (`describe_*!` calls in
//! `src/metrics.rs`, `metrics::*!` calls where metrics are emitted), a
//! lexical scan of PromQL for the series and labels it names, and the
//! `expr` values of a Prometheus rule file read by text (no YAML parser).

use std::collections::BTreeSet;
use std::path::PathBuf;

/// Labels that Prometheus itself adds or that histograms carry.
const SCRAPE_LABELS: [&str; 3] = ["job", "instance", "le"];

/// Names in PromQL that are operators or keywords, never series.
const KEYWORDS: &str = "sum min max avg group stddev stdvar count count_values bottomk topk \
    quantile limitk and or unless bool offset atan2 inf nan";

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &str = "by without on ignoring group_left group_right";

fn is_one_of(word: &str, list: &str) -> bool {
    list.split_whitespace().any(|listed| listed == word)
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the service exposes: series names (histograms as their three
/// series) and the label names its metric macros set.
pub(crate) struct Exposed {
    pub(crate) described: BTreeSet<String>,
    pub(crate) series: BTreeSet<String>,
    pub(crate) labels: BTreeSet<String>,
}

impl Exposed {
    pub(crate) fn from_sources() -> Self {
        let mut described = BTreeSet::new();
        let mut series = BTreeSet::from(["up".to_owned()]);
        let metrics_rs = read("src/metrics.rs");
        for (kind, name) in macro_names(&metrics_rs, "describe_") {
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    series.insert(format!("{name}{suffix}"));
                }
            } else {
                series.insert(name.clone());
            }
            described.insert(name);
        }
        assert!(
            !described.is_empty(),
            "no describe_*! call found in src/metrics.rs"
        );

        let mut labels: BTreeSet<String> = SCRAPE_LABELS.iter().map(|s| s.to_string()).collect();
        for (file, text) in emitting_sources() {
            for call in macro_calls(&text, "metrics::") {
                let name = first_string(&call.body).unwrap_or_default();
                assert!(
                    described.contains(&name),
                    "{file}:{}: metric {name:?} is emitted but not described in src/metrics.rs",
                    call.line
                );
                labels.extend(label_keys(&call.body));
            }
        }
        Self {
            described,
            series,
            labels,
        }
    }
}

/// The `.rs` files under the folders that emit metrics, nested modules
/// (`locker/health.rs`, `broker/auth.rs`) included, with their paths.
fn emitting_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut folders = vec![root().join("actors/src"), root().join("src")];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).expect("source folder is listable");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root()).expect("under the root");
                let relative = relative.display().to_string();
                files.push((relative.clone(), read(&relative)));
            }
        }
    }
    files
}

/// One `prefix{counter,histogram,gauge}!( ... )` call: its kind, the text
/// between its parentheses and the line it starts on.
struct MacroCall {
    kind: &'static str,
    body: String,
    line: usize,
}

fn macro_calls(text: &str, prefix: &str) -> Vec<MacroCall> {
    let mut calls = Vec::new();
    for kind in ["counter", "histogram", "gauge"] {
        let opening = format!("{prefix}{kind}!(");
        for (at, _) in text.match_indices(&opening) {
            let start = at + opening.len();
            let mut depth = 1;
            let mut end = start;
            for (offset, c) in text[start..].char_indices() {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    end = start + offset;
                    break;
                }
            }
            calls.push(MacroCall {
                kind,
                body: text[start..end].to_owned(),
                line: text[..at].lines().count() + 1,
            });
        }
    }
    calls
}

fn macro_names(text: &str, prefix: &str) -> Vec<(&'static str, String)> {
    macro_calls(text, prefix)
        .into_iter()
        .filter_map(|call| Some((call.kind, first_string(&call.body)?)))
        .collect()
}

fn first_string(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let length = text[start..].find('"')?;
    Some(text[start..start + length].to_owned())
}

/// Label names of a metric macro call: the string before each `=>`.
fn label_keys(body: &str) -> Vec<String> {
    let pieces: Vec<&str> = body.split("=>").collect();
    pieces[..pieces.len().saturating_sub(1)]
        .iter()
        .filter_map(|before| {
            let before = before.trim_end().strip_suffix('"')?;
            let start = before.rfind('"')? + 1;
            Some(before[start..].to_owned())
        })
        .collect()
}

/// Series and label names one PromQL expression uses. Grafana's `$...`
/// variables, strings, durations and numbers are skipped; the scan is
/// lexical, which is enough for names, and promtool checks the grammar.
#[derive(Debug, Default)]
pub(crate) struct Used {
    pub(crate) series: BTreeSet<String>,
    pub(crate) labels: BTreeSet<String>,
}

pub(crate) fn scan_promql(expr: &str) -> Used {
    let chars: Vec<char> = expr.chars().collect();
    let mut used = Used::default();
    let mut i = 0;
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && is_part(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let next_char = |from: usize| chars[from..].iter().copied().find(|c| !c.is_whitespace());

    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (is_part(chars[i]) || chars[i] == '{' || chars[i] == '}') {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '{' {
            // A matcher block: each bare word is a label name.
            i += 1;
            while i < chars.len() && chars[i] != '}' {
                if chars[i] == '"' || chars[i] == '\'' || chars[i] == '`' {
                    i = skip_string(&chars, i);
                } else if is_start(chars[i]) {
                    used.labels.insert(word(&mut i));
                } else {
                    i += 1;
                }
            }
        } else if is_start(c) {
            let name = word(&mut i);
            if is_one_of(&name, LABEL_LISTS) {
                if next_char(i) == Some('(') {
                    while i < chars.len() && chars[i] != ')' {
                        if is_start(chars[i]) {
                            used.labels.insert(word(&mut i));
                        } else {
                            i += 1;
                        }
                    }
                }
            } else if !is_one_of(&name, KEYWORDS) && next_char(i) != Some('(') {
                used.series.insert(name);
            }
        } else {
            i += 1;
        }
    }
    used
}

fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// Checks one expression; returns what is wrong with it, if anything.
pub(crate) fn unknown_names(exposed: &Exposed, expr: &str) -> Vec<String> {
    let used = scan_promql(expr);
    let mut faults = Vec::new();
    for series in used.series.difference(&exposed.series) {
        faults.push(format!("unknown metric {series:?}"));
    }
    for label in used.labels.difference(&exposed.labels) {
        faults.push(format!("unknown label {label:?}"));
    }
    if used.series.is_empty() {
        faults.push("no metric at all".to_owned());
    }
    faults
}

/// Every `expr` of the alert rules with the line it starts on, read by
/// text: an inline value, or a block scalar (`|`, `>`) of deeper lines.
pub(crate) fn alert_exprs(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let value = value.trim();
        let expr = if value.starts_with('|') || value.starts_with('>') {
            lines[index + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            value.trim_matches(|c| c == '"' || c == '\'').to_owned()
        };
        exprs.push((index + 1, expr));
    }
    exprs
}
