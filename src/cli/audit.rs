//! `armory audit`: the inspector's commands on the audit trail.
//!
//! `verify` recomputes the hash chain of the whole trail; `query` shows
//! rows for a person, a weapon, a place, an outcome or a time window, with
//! badge fingerprints only; `export` writes every column of those rows,
//! full badge ids and hashes included, as CSV or JSON Lines. All three open
//! the store read-only, so they run beside a live service: under WAL a
//! reader neither blocks the writer nor waits for it. Rows come oldest
//! first by their UTC instant, which is the true order even through the
//! hour that repeats when daylight time ends.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use armory_actors::domain::{AssetTag, EmployeeId, LockerId, SiteId};
use armory_actors::ports::Decision;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::config::Config;
use crate::store::{AuditFilter, AuditRow, Database};

mod output;

/// The store's file inside the state folder, as `armory serve` names it.
const DATABASE_FILE: &str = "armory.sqlite3";

/// The inspector's commands on the audit trail.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain of the whole trail; name the first row
    /// that does not check out.
    Verify {
        /// Configuration file; the store is in its state folder.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
    /// Show audit rows, oldest first, with badge fingerprints only.
    Query {
        /// Configuration file; the store is in its state folder.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Which rows.
        #[command(flatten)]
        filters: Filters,
        /// How to show them.
        #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
    },
    /// Write every column of the matching rows (full badge ids, hashes)
    /// for an inspector, then check the chain.
    Export {
        /// Configuration file; the store is in its state folder.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Which rows.
        #[command(flatten)]
        filters: Filters,
        /// The file format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// A new file, created owner-only; standard output if absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Which audit rows to show; the filters given must all match.
#[derive(Args, Debug, Clone)]
pub struct Filters {
    /// Rows about this person (employee id, e.g. E40004).
    #[arg(long, value_name = "EMPLOYEE_ID", value_parser = NonEmptyStringValueParser::new())]
    person: Option<String>,
    /// Rows about this weapon (asset tag, e.g. LL-01001).
    #[arg(long, value_name = "ASSET_TAG", value_parser = NonEmptyStringValueParser::new())]
    weapon: Option<String>,
    /// Rows from this locker (e.g. SLM-L1).
    #[arg(long, value_name = "LOCKER", value_parser = NonEmptyStringValueParser::new())]
    locker: Option<String>,
    /// Rows from this site (e.g. SLM).
    #[arg(long, value_name = "SITE", value_parser = NonEmptyStringValueParser::new())]
    site: Option<String>,
    /// Rows with this outcome.
    #[arg(long, value_enum)]
    decision: Option<DecisionWord>,
    /// Rows at or after this instant (RFC 3339 with an offset or Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    since: Option<Timestamp>,
    /// Rows strictly before this instant (RFC 3339 with an offset or Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    until: Option<Timestamp>,
}

/// An outcome as written on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DecisionWord {
    /// Access granted.
    Granted,
    /// Access denied.
    Denied,
    /// A fact recorded (sign-out or return completed, expiry).
    Recorded,
}

/// How `audit query` shows its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns, one row per line.
    Table,
    /// The table's columns as CSV with a header row.
    Csv,
    /// The table's columns as one JSON object per line.
    Jsonl,
}

/// The file format of `audit export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Runs one audit command.
pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { config } => verify(&config),
        AuditCommand::Query {
            config,
            filters,
            format,
        } => query(&config, &filters, format),
        AuditCommand::Export {
            config,
            filters,
            format,
            out,
        } => export(&config, &filters, format, out.as_deref()),
    }
}

/// `audit verify`: the count of rows and the newest hash, or the first
/// broken row as an error.
fn verify(config: &Path) -> anyhow::Result<()> {
    let db = open_store(config)?;

    // Rows are only ever appended, so the head read first is among the
    // rows the check below covers.
    let head = db.audit_head()?;
    let checked = db
        .verify_audit()
        .with_context(|| format!("the audit trail in {} does not verify", db.path().display()))?;

    println!("ok: {checked} rows, chain intact");
    if let Some((seq, row_hash)) = head {
        // Kept elsewhere, this shows later whether rows were cut off the end.
        println!("newest row: seq {seq}, row_hash {row_hash}");
    }
    Ok(())
}

/// `audit query`: the matching rows on standard output.
fn query(config: &Path, filters: &Filters, format: QueryFormat) -> anyhow::Result<()> {
    let filter = filters.to_filter()?;
    let db = open_store(config)?;
    let rows = db.audit_rows(&filter)?;

    let mut out = BufWriter::new(std::io::stdout().lock());
    let views = rows.iter().map(output::ViewRow::from);
    let written = match format {
        QueryFormat::Table => output::write_table(views, &mut out),
        QueryFormat::Csv => output::write_csv(output::VIEW_HEADERS, views, &mut out),
        QueryFormat::Jsonl => output::write_jsonl(views, &mut out),
    }
    .and_then(|()| out.flush());
    ignore_closed_pipe(written).context("writing the audit rows")
}

/// `audit export`: every column of the matching rows to `out` (a new
/// owner-only file) or standard output, then the chain check.
fn export(
    config: &Path,
    filters: &Filters,
    format: ExportFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let filter = filters.to_filter()?;
    let db = open_store(config)?;
    let rows = db.audit_rows(&filter)?;

    let destination = match out {
        Some(path) => {
            write_new_file(path, &rows, format)?;
            path.display().to_string()
        }
        None => {
            let mut stdout = BufWriter::new(std::io::stdout().lock());
            let written = write_export(&rows, format, &mut stdout).and_then(|()| stdout.flush());
            ignore_closed_pipe(written).context("writing the export")?;
            "standard output".to_owned()
        }
    };

    // A broken trail is still exported (it is evidence), but the command
    // fails so that no one files it as verified.
    let checked = db.verify_audit().with_context(|| {
        format!(
            "wrote {} rows to {destination}, but the audit trail in {} does not verify",
            rows.len(),
            db.path().display()
        )
    })?;
    eprintln!(
        "exported {} rows to {destination}; audit trail verified: {checked} rows, chain intact",
        rows.len()
    );
    Ok(())
}

fn write_export(rows: &[AuditRow], format: ExportFormat, out: impl Write) -> std::io::Result<()> {
    let records = rows.iter().map(output::ExportRow::from);
    match format {
        ExportFormat::Csv => output::write_csv(output::EXPORT_HEADERS, records, out),
        ExportFormat::Jsonl => output::write_jsonl(records, out),
    }
}

/// Writes the export to a file that must not exist yet, readable by its
/// owner only, and synced before success is reported. An export never
/// overwrites a file: it may be the only copy of earlier evidence.
fn write_new_file(path: &Path, rows: &[AuditRow], format: ExportFormat) -> anyhow::Result<()> {
    let file = create_owner_only(path)?;
    let mut writer = BufWriter::new(file);
    let written = write_export(rows, format, &mut writer)
        .and_then(|()| writer.flush())
        .and_then(|()| writer.get_ref().sync_all());

    if let Err(error) = written {
        // A partial export must not be mistaken for a whole one.
        let _ = std::fs::remove_file(path);
        return Err(error).with_context(|| format!("writing the export {}", path.display()));
    }
    Ok(())
}

fn create_owner_only(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }

    options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "--out {} already exists; an export never overwrites a file",
                path.display()
            )
        } else {
            anyhow::Error::new(error).context(format!("cannot create --out {}", path.display()))
        }
    })
}

/// Opens the store named by the configuration, read-only.
fn open_store(config: &Path) -> anyhow::Result<Database> {
    let config = Config::load(config)?;
    let path = config.resolved_state_dir().join(DATABASE_FILE);

    // Opening read-only never creates the file; say what is missing
    // rather than pass on SQLite's "unable to open".
    if !path.is_file() {
        anyhow::bail!(
            "no store at {}: the service creates it on its first start",
            path.display()
        );
    }
    Database::open_reader(&path).with_context(|| format!("opening the store {}", path.display()))
}

/// A reader that stopped reading (`armory audit query | head`) is not an
/// error of ours.
fn ignore_closed_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Parses `--since` and `--until`; clap names the flag and the value.
fn parse_instant(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|error| {
        format!("not an RFC 3339 instant with an offset, such as 2026-11-01T09:30:00Z: {error}")
    })
}

impl Filters {
    fn to_filter(&self) -> anyhow::Result<AuditFilter> {
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                anyhow::bail!("--since {since} is not before --until {until}: no row can match");
            }
        }
        Ok(AuditFilter {
            employee_id: self.person.as_deref().map(EmployeeId::from),
            asset_tag: self.weapon.as_deref().map(AssetTag::from),
            locker: self.locker.as_deref().map(LockerId::from),
            site: self.site.as_deref().map(SiteId::from),
            decision: self.decision.map(|word| match word {
                DecisionWord::Granted => Decision::Granted,
                DecisionWord::Denied => Decision::Denied,
                DecisionWord::Recorded => Decision::Recorded,
            }),
            since: self.since,
            until: self.until,
        })
    }
}
