//! Checks the monitoring files under `grafana/` against the service itself,
//! with no service running: every PromQL expression of the dashboard and of
//! the alert rules names only metrics that `src/metrics.rs` describes and
//! labels that the code sets; the dashboard takes its Prometheus from the
//! `${datasource}` variable and explains every panel; and promtool accepts
//! the rules and the Prometheus configuration and passes the rules' unit
//! tests (`grafana/prometheus/alerts.test.yml`). CI installs promtool
//! (`.ci/run`).

#[path = "grafana/names.rs"]
mod names;

use std::collections::BTreeSet;
use std::process::Command;

use names::{alert_exprs, read, root, scan_promql, unknown_names, Exposed};
use serde_json::Value;

const DASHBOARD: &str = "grafana/dashboards/armory-overview.json";
const ALERTS: &str = "grafana/prometheus/alerts.yml";
const ALERT_TESTS: &str = "grafana/prometheus/alerts.test.yml";
const PROMETHEUS: &str = "grafana/prometheus/prometheus.yml";

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    let mut stack: Vec<&Value> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(panel) = stack.pop() {
        stack.extend(panel["panels"].as_array().into_iter().flatten());
        all.push(panel);
    }
    all
}

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD))
        .unwrap_or_else(|e| panic!("{DASHBOARD}:{}:{}: {e}", e.line(), e.column()))
}

#[test]
fn the_checker_catches_unknown_names() {
    let exposed = Exposed::from_sources();
    let good = r#"histogram_quantile(0.95, sum by (le, instance)
        (rate(armory_access_decision_seconds_bucket{instance=~"$instance"}[$__rate_interval])))
        > 0.5 or absent(up{job="armory"}) offset 5m"#;
    assert_eq!(unknown_names(&exposed, good), Vec::<String>::new());

    let typo = r#"sum by (class) (rate(armory_sign_out_total{weapon="x"}[5m]))"#;
    assert_eq!(
        unknown_names(&exposed, typo),
        [
            "unknown metric \"armory_sign_out_total\"",
            "unknown label \"class\"",
            "unknown label \"weapon\"",
        ]
    );
}

#[test]
fn dashboard_queries_use_only_metrics_the_service_exposes() {
    let exposed = Exposed::from_sources();
    let dashboard = dashboard();
    let mut faults = Vec::new();
    let mut shown = BTreeSet::new();

    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let reference = target["refId"].as_str().unwrap_or("?");
            for fault in unknown_names(&exposed, expr) {
                faults.push(format!(
                    "panel {title:?} query {reference}: {fault}: {expr}"
                ));
            }
            shown.extend(scan_promql(expr).series);
        }
    }

    // Template variables query with Grafana's label_values(selector, label).
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str());
        if let Some(inner) = query.and_then(|q| q.strip_prefix("label_values(")) {
            let selector = inner
                .rsplit_once(',')
                .map_or(inner, |(selector, _)| selector);
            for fault in unknown_names(&exposed, selector) {
                faults.push(format!("variable {}: {fault}", variable["name"]));
            }
        }
    }
    assert!(faults.is_empty(), "{DASHBOARD}:\n{}", faults.join("\n"));

    // Every metric the service describes is on the dashboard somewhere.
    let missing: Vec<_> = exposed
        .described
        .iter()
        .filter(|name| !shown.iter().any(|s| s.starts_with(name.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "{DASHBOARD}: no panel shows {missing:?}"
    );
}

#[test]
fn dashboard_takes_its_datasource_from_a_variable_and_explains_each_panel() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64().unwrap_or(0) >= 36);

    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating list");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "{DASHBOARD}: no `datasource` variable of type datasource for prometheus"
    );

    let mut faults = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        if !ids.insert(panel["id"].as_u64()) {
            faults.push(format!("panel {title:?}: id {} used twice", panel["id"]));
        }
        if panel["type"] == "row" {
            continue;
        }
        let mut sources = vec![&panel["datasource"]["uid"]];
        sources.extend(
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| &t["datasource"]["uid"]),
        );
        if sources.iter().any(|uid| *uid != "${datasource}") {
            faults.push(format!(
                "panel {title:?}: datasource uid is not ${{datasource}}"
            ));
        }
        if panel["description"].as_str().is_none_or(|d| d.len() < 40) {
            faults.push(format!("panel {title:?}: no description saying what to do"));
        }
        if panel["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            faults.push(format!("panel {title:?}: no unit"));
        }
    }
    assert!(faults.is_empty(), "{DASHBOARD}:\n{}", faults.join("\n"));
}

#[test]
fn alert_rules_use_only_metrics_the_service_exposes() {
    let exposed = Exposed::from_sources();
    let text = read(ALERTS);
    let exprs = alert_exprs(&text);
    assert!(
        exprs.len() >= 9,
        "{ALERTS}: only {} expr lines found",
        exprs.len()
    );

    let mut faults = Vec::new();
    for (line, expr) in &exprs {
        for fault in unknown_names(&exposed, expr) {
            faults.push(format!("{ALERTS}:{line}: {fault}"));
        }
    }

    // Every alert carries a severity and both annotations.
    for block in text.split("- alert:").skip(1) {
        let name = block.split_whitespace().next().unwrap_or("?");
        for key in ["severity:", "summary:", "description:"] {
            if !block.contains(key) {
                faults.push(format!("{ALERTS}: alert {name} has no {key}"));
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

fn promtool(args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("promtool runs (apt-get install prometheus): {e}"));
    assert!(
        output.status.success(),
        "promtool {} refused:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules_and_the_config() {
    promtool(&["check", "rules", ALERTS]);
    promtool(&["check", "config", PROMETHEUS]);
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    assert!(
        root().join(ALERT_TESTS).is_file(),
        "{ALERT_TESTS} is missing"
    );
    promtool(&["test", "rules", ALERT_TESTS]);
}

#[test]
fn provisioning_points_grafana_at_the_dashboard_and_prometheus() {
    let providers = read("grafana/provisioning/dashboards/armory.yaml");
    let path = providers
        .lines()
        .find_map(|line| line.trim().strip_prefix("path:"))
        .expect("the dashboard provider has a path")
        .trim()
        .replace(
            "${ARMORY_GRAFANA_DIR}",
            &root().join("grafana").display().to_string(),
        );
    assert!(
        std::path::Path::new(&path)
            .join("armory-overview.json")
            .is_file(),
        "the dashboard provider's path {path} holds no armory-overview.json"
    );

    let sources = read("grafana/provisioning/datasources/prometheus.yaml");
    assert!(
        sources.contains("type: prometheus"),
        "no Prometheus data source"
    );
    let scrape = read(PROMETHEUS);
    assert!(scrape.contains("127.0.0.1:9464") && scrape.contains("alerts.yml"));
}
