//! Interoperability with real third-party tools: Mosquitto's command-line
//! clients read the retained state and inject traffic, and Prometheus's
//! promtool accepts the metrics text. CI installs both (`.ci/run`).

#[path = "support/harness.rs"]
mod harness;

use std::process::{Command, Stdio};

use armory_actors::domain::{LockerId, ReaderId};
use armory_actors::protocol::AccessRequest;
use harness::TestArmory;

fn mosquitto_sub(port: u16, filter: &str, count: usize) -> Vec<String> {
    let output = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            harness::OBSERVER_USER,
            "-P",
            harness::OBSERVER_PASSWORD,
            "-t",
            filter,
            "-v",
        ])
        .args(["-C", &count.to_string(), "-W", "10"])
        .output()
        .expect("mosquitto_sub runs (apt-get install mosquitto-clients)");
    assert!(output.status.success(), "mosquitto_sub failed: {output:?}");
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_clients_and_promtool_work_with_the_service() {
    let armory = TestArmory::start().await;
    let port = armory.service.broker_address().port();

    // Every locker's retained state reaches a plain mosquitto_sub.
    let lockers = armory.agency.armory.lockers.len();
    let lines =
        tokio::task::spawn_blocking(move || mosquitto_sub(port, "armory/v1/+/+/state", lockers))
            .await
            .expect("joined");
    assert_eq!(lines.len(), lockers);
    for line in &lines {
        let (topic, payload) = line.split_once(' ').expect("topic and payload");
        let state: serde_json::Value = serde_json::from_str(payload).expect("JSON state");
        assert_eq!(state["v"], 1);
        assert!(topic.ends_with(&format!("{}/state", state["locker"].as_str().expect("id"))));
    }

    // A forged scan from mosquitto_pub is refused; no audit row appears.
    let forged = concat!(
        r#"{"v":1,"id":"6f1c2a64-3f55-4c0c-9d0e-0d6f7f2f9a11","sender":"SLM-L1","#,
        r#""counter":99999999999999999,"at":"2026-12-03T14:00:00Z","#,
        r#""expires_at":"2026-12-03T14:00:30Z","body":{"type":"scan","#,
        r#""badge_uid":"618C664A","request":{"action":"sign_out","weapon_class":"cew"}},"#,
        r#""tag":"0000000000000000000000000000000000000000000000000000000000000000"}"#
    );
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args([
            "-u",
            harness::OBSERVER_USER,
            "-P",
            harness::OBSERVER_PASSWORD,
        ])
        .args(["-t", "armory/v1/SLM/SLM-L1/event/reader/R1", "-m", forged])
        .stdin(Stdio::null())
        .status()
        .expect("mosquitto_pub runs");
    assert!(status.success());

    // A genuine sign-out after it still works, and the forged one left
    // nothing behind.
    let (officer, class, pin) = armory.officer_for("SLM-L1", &[]);
    let outcome = armory
        .sim
        .scan(
            &LockerId::from("SLM-L1"),
            &ReaderId::from("R1"),
            &officer.badge,
            Some(&pin),
            AccessRequest::SignOut {
                weapon_class: class,
            },
        )
        .await
        .expect("answered");
    assert!(outcome.granted());
    armory.wait_activity("signed_out", 1).await;
    assert_eq!(armory.all_audit().len(), 2);

    // promtool accepts the metrics exposition.
    let metrics = armory.service.render_metrics();
    assert!(metrics.contains("armory_access_decisions_total"));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("metrics.txt");
    std::fs::write(&path, &metrics).expect("written");
    let checked = Command::new("sh")
        .arg("-c")
        .arg(format!("promtool check metrics < {}", path.display()))
        .output()
        .expect("promtool runs (apt-get install prometheus)");
    assert!(
        checked.status.success(),
        "promtool refused the metrics: {}\n{metrics}",
        String::from_utf8_lossy(&checked.stderr)
    );
    armory.stop().await;
}
