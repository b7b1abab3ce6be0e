//! `armory serve` as a child process of a test: started from a
//! configuration file, ready once it logs "armory running", then killed
//! without warning (SIGKILL) or stopped as by Ctrl-C (SIGINT).
//!
//! A thread drains the child's log (stderr) into a shared list as it
//! comes, so the child never blocks on a full pipe and a failing test can
//! show what the service said. The list remembers when the pipe closed,
//! which is how a test waits for the process to end without polling it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// The log of one run: its lines, and whether the pipe has closed.
#[derive(Clone, Debug, Default)]
pub struct Log {
    pub lines: Vec<String>,
    pub closed: bool,
}

/// A running `armory serve`.
pub struct ServiceProcess {
    name: &'static str,
    child: Child,
    log: Arc<Mutex<Log>>,
    changed: watch::Receiver<usize>,
}

impl ServiceProcess {
    /// Starts `armory serve --config CONFIG` and waits until it runs.
    pub async fn start(config: &Path, name: &'static str, patience: Duration) -> ServiceProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_armory"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{name}: armory serve does not start: {error}"));
        let stderr = child.stderr.take().expect("stderr was piped just above");

        let log = Arc::new(Mutex::new(Log::default()));
        let (tell, changed) = watch::channel(0usize);
        let record = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lock(&record).lines.push(line);
                tell.send_modify(|count| *count += 1);
            }
            lock(&record).closed = true;
            tell.send_modify(|count| *count += 1);
        });

        let process = ServiceProcess {
            name,
            child,
            log,
            changed,
        };
        let ready = process
            .wait_log(patience, |log| {
                log.closed || log.lines.iter().any(|l| l.contains("armory running"))
            })
            .await;
        assert!(
            ready && !process.log().closed,
            "{name}: armory serve did not report running within {patience:?}:\n{}",
            process.log().lines.join("\n")
        );
        process
    }

    /// A copy of the log so far.
    pub fn log(&self) -> Log {
        lock(&self.log).clone()
    }

    /// Waits until `ready` holds for the log; false if `patience` ran out.
    pub async fn wait_log(&self, patience: Duration, ready: impl Fn(&Log) -> bool) -> bool {
        let mut changed = self.changed.clone();
        let waited = tokio::time::timeout(patience, async {
            loop {
                if ready(&self.log()) {
                    return;
                }
                if changed.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        waited.is_ok() && ready(&self.log())
    }

    /// Kills the process at once (SIGKILL on Unix): no clean-up of any
    /// kind, as a power cut or the kernel's OOM killer would.
    pub fn kill(mut self) -> Log {
        self.child
            .kill()
            .unwrap_or_else(|error| panic!("{}: cannot kill armory: {error}", self.name));
        self.child
            .wait()
            .unwrap_or_else(|error| panic!("{}: armory was not reaped: {error}", self.name));
        self.log()
    }

    /// Stops the process as Ctrl-C does (SIGINT) and waits for it to end.
    pub async fn interrupt(mut self, patience: Duration) -> Log {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(
            sent.is_ok_and(|status| status.success()),
            "{}: cannot send SIGINT to armory",
            self.name
        );
        let ended = self.wait_log(patience, |log| log.closed).await;
        if !ended {
            let _ = self.child.kill();
        }
        let status = self.child.wait();
        let log = self.log();
        assert!(
            ended && status.as_ref().is_ok_and(|s| s.success()),
            "{}: armory did not stop cleanly on SIGINT within {patience:?} ({status:?}):\n{}",
            self.name,
            log.lines.join("\n")
        );
        log
    }
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    // The reader thread only pushes lines; a panic elsewhere leaves a
    // consistent list behind.
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
