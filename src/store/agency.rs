//! The agency's layout and personnel: seeding, replacing, loading.
//!
//! [`Database::seed`] writes a whole agency into an empty file in one
//! transaction. Afterwards the roster changes with
//! [`Database::replace_personnel`] (people and certifications swapped
//! atomically; PIN hashes are enrolled separately and survive it) or, with
//! an audit row, through [`PersonnelTx`](super::PersonnelTx); every such
//! change bumps the personnel generation. The service builds its actors
//! from [`Database::load_armory`] and [`Database::load_personnel`].
//! Re-importing the layout over a running armory (keeping weapon counters
//! and holders) is not supported yet: seeding refuses a database that
//! already holds an agency.

use std::collections::BTreeMap;
use std::str::FromStr;

use armory_actors::domain::{
    Armory, BadgeUid, Certification, EmployeeId, Locker, LockerId, Person, Personnel, Site, SiteId,
};
use jiff::tz::TimeZone;
use rusqlite::{Connection, Row, TransactionBehavior};

use super::weapons::{insert_weapon, weapon_from_row, WEAPON_COLUMNS};
use super::{parse_utc, utc_text, Database, DbError, SqlContext};

impl Database {
    /// True when no site, locker, weapon or person is stored yet.
    pub fn is_empty(&self) -> Result<bool, DbError> {
        is_empty(&self.conn)
    }

    /// Writes a whole agency (layout, inventory, roster, certifications
    /// and PIN hashes) into an empty database, all or nothing.
    pub fn seed(&mut self, armory: &Armory, personnel: &Personnel) -> Result<(), DbError> {
        for site in armory.sites.values() {
            check_timezone(site)?;
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting the seed")?;
        if !is_empty(&tx)? {
            return Err(DbError::NotEmpty);
        }
        for site in armory.sites.values() {
            insert_site(&tx, site)?;
        }
        for locker in armory.lockers.values() {
            insert_locker(&tx, locker)?;
        }
        for weapon in armory.weapons.values() {
            insert_weapon(&tx, weapon)?;
        }
        write_personnel(&tx, personnel)?;
        for (employee_id, phc) in &personnel.pin_hashes {
            upsert_pin_hash(&tx, employee_id, phc)?;
        }
        tx.commit().context("committing the seed")?;

        tracing::info!(
            sites = armory.sites.len(),
            lockers = armory.lockers.len(),
            weapons = armory.weapons.len(),
            people = personnel.people.len(),
            "agency seeded"
        );
        Ok(())
    }

    /// Replaces all people and certifications with `personnel`'s, in one
    /// transaction. Enrolled PIN hashes are kept; `personnel.pin_hashes`
    /// is ignored.
    pub fn replace_personnel(&mut self, personnel: &Personnel) -> Result<(), DbError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting the roster replacement")?;
        tx.execute_batch("DELETE FROM certifications; DELETE FROM people;")
            .context("clearing the roster")?;
        write_personnel(&tx, personnel)?;
        bump_generation(&tx)?;
        tx.commit().context("committing the roster replacement")?;

        tracing::info!(people = personnel.people.len(), "roster replaced");
        Ok(())
    }

    /// Enrols (or replaces) a person's PIN hash, an argon2 PHC string, and
    /// bumps the personnel generation. It writes no audit row; the
    /// enrolment of `armory pin set` goes through
    /// [`PersonnelTx`](super::PersonnelTx), which does.
    pub fn set_pin_hash(&mut self, employee_id: &EmployeeId, phc: &str) -> Result<(), DbError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting the PIN enrolment")?;
        set_pin_hash(&tx, employee_id, phc)?;
        bump_generation(&tx)?;
        tx.commit().context("committing the PIN enrolment")
    }

    /// The stored layout and inventory, weapons with their holders.
    pub fn load_armory(&self) -> Result<Armory, DbError> {
        let mut armory = Armory::default();

        let mut sites = self
            .conn
            .prepare("SELECT site_id, name, timezone FROM sites")
            .context("reading sites")?;
        let rows = sites
            .query_map([], |row| {
                Ok(Site {
                    id: SiteId(row.get(0)?),
                    name: row.get(1)?,
                    timezone: row.get(2)?,
                })
            })
            .context("reading sites")?;
        for site in rows {
            let site = site.context("reading sites")?;
            armory.sites.insert(site.id.clone(), site);
        }

        let mut lockers = self
            .conn
            .prepare("SELECT locker_id, site_id, model, compartments, readers FROM lockers")
            .context("reading lockers")?;
        let mut rows = lockers.query([]).context("reading lockers")?;
        while let Some(row) = rows.next().context("reading lockers")? {
            let locker = locker_from_row(row)?;
            armory.lockers.insert(locker.id.clone(), locker);
        }

        let sql = format!("SELECT {WEAPON_COLUMNS} FROM weapons");
        let mut weapons = self.conn.prepare(&sql).context("reading weapons")?;
        let mut rows = weapons.query([]).context("reading weapons")?;
        while let Some(row) = rows.next().context("reading weapons")? {
            let weapon = weapon_from_row(row)?;
            armory.weapons.insert(weapon.asset_tag.clone(), weapon);
        }
        Ok(armory)
    }

    /// The stored roster, certifications and PIN hashes of people on it.
    pub fn load_personnel(&self) -> Result<Personnel, DbError> {
        read_personnel(&self.conn)
    }
}

/// The stored personnel as [`Database::load_personnel`] returns it; the
/// caller runs it inside one transaction if it needs a consistent view.
pub(super) fn read_personnel(conn: &Connection) -> Result<Personnel, DbError> {
    let mut personnel = Personnel::default();

    let mut people = conn
        .prepare(
            "SELECT employee_id, last_name, first_name, rank, role, home_site, status,
                    badge_uid, hire_date
             FROM people",
        )
        .context("reading people")?;
    let mut rows = people.query([]).context("reading people")?;
    while let Some(row) = rows.next().context("reading people")? {
        let person = person_from_row(row)?;
        personnel.people.insert(person.employee_id.clone(), person);
    }

    let mut certifications = conn
        .prepare(
            "SELECT id, employee_id, course_code, weapon_class, completed_on, expires_at,
                    instructor_id
             FROM certifications ORDER BY id",
        )
        .context("reading certifications")?;
    let mut rows = certifications.query([]).context("reading certifications")?;
    while let Some(row) = rows.next().context("reading certifications")? {
        let certification = certification_from_row(row)?;
        personnel
            .certifications
            .entry(certification.employee_id.clone())
            .or_default()
            .push(certification);
    }

    let mut pins = conn
        .prepare("SELECT employee_id, phc FROM pin_hashes JOIN people USING (employee_id)")
        .context("reading PIN hashes")?;
    let rows = pins
        .query_map([], |row| Ok((EmployeeId(row.get(0)?), row.get(1)?)))
        .context("reading PIN hashes")?;
    personnel.pin_hashes = rows
        .collect::<Result<BTreeMap<_, _>, _>>()
        .context("reading PIN hashes")?;
    Ok(personnel)
}

fn is_empty(conn: &Connection) -> Result<bool, DbError> {
    conn.query_row(
        "SELECT NOT (EXISTS (SELECT 1 FROM sites) OR EXISTS (SELECT 1 FROM lockers)
                  OR EXISTS (SELECT 1 FROM weapons) OR EXISTS (SELECT 1 FROM people))",
        [],
        |row| row.get(0),
    )
    .context("checking whether the database is empty")
}

/// The audit writer turns instants into a site's wall-clock time, so a
/// zone it cannot resolve is refused before it is stored.
fn check_timezone(site: &Site) -> Result<(), DbError> {
    TimeZone::get(&site.timezone)
        .map(drop)
        .map_err(|error| DbError::BadTimezone {
            site: site.id.to_string(),
            timezone: site.timezone.clone(),
            detail: error.to_string(),
        })
}

fn insert_site(conn: &Connection, site: &Site) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO sites (site_id, name, timezone) VALUES (?1, ?2, ?3)",
        (site.id.as_str(), &site.name, &site.timezone),
    )
    .map(drop)
    .map_err(|source| DbError::Insert {
        table: "sites",
        key: site.id.to_string(),
        source,
    })
}

fn insert_locker(conn: &Connection, locker: &Locker) -> Result<(), DbError> {
    // JSON arrays of the same words serde reads back on load.
    let words = |words: Vec<&str>| serde_json::Value::from(words).to_string();
    let compartments = words(
        locker
            .compartments
            .iter()
            .map(|size| size.as_str())
            .collect(),
    );
    let readers = words(locker.readers.iter().map(|kind| kind.as_str()).collect());
    conn.execute(
        "INSERT INTO lockers (locker_id, site_id, model, compartments, readers)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            locker.id.as_str(),
            locker.site.as_str(),
            &locker.model,
            compartments,
            readers,
        ),
    )
    .map(drop)
    .map_err(|source| DbError::Insert {
        table: "lockers",
        key: locker.id.to_string(),
        source,
    })
}

/// Enrols a PIN hash for someone on the roster.
pub(super) fn set_pin_hash(
    conn: &Connection,
    employee_id: &EmployeeId,
    phc: &str,
) -> Result<(), DbError> {
    let known: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM people WHERE employee_id = ?1)",
            [employee_id.as_str()],
            |row| row.get(0),
        )
        .context("looking up the employee")?;
    if !known {
        return Err(DbError::UnknownEmployee {
            employee_id: employee_id.to_string(),
        });
    }
    upsert_pin_hash(conn, employee_id, phc)
}

/// Adds one to `personnel_generation` and returns the new value.
pub(super) fn bump_generation(conn: &Connection) -> Result<u64, DbError> {
    let generation: i64 = conn
        .query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'personnel_generation'
             RETURNING value",
            [],
            |row| row.get(0),
        )
        .context("bumping the personnel generation")?;
    Ok(u64::try_from(generation).unwrap_or_default())
}

pub(super) fn write_personnel(conn: &Connection, personnel: &Personnel) -> Result<(), DbError> {
    let mut people = conn
        .prepare(
            "INSERT INTO people (employee_id, last_name, first_name, rank, role, home_site,
                                 status, badge_uid, hire_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .context("preparing the people insert")?;
    for person in personnel.people.values() {
        people
            .execute((
                person.employee_id.as_str(),
                &person.last_name,
                &person.first_name,
                &person.rank,
                person.role.as_str(),
                person.home_site.as_str(),
                person.status.as_str(),
                person.badge.reveal(),
                person.hire_date.to_string(),
            ))
            .map_err(|source| DbError::Insert {
                table: "people",
                key: person.employee_id.to_string(),
                source,
            })?;
    }

    insert_certifications(conn, personnel.certifications.values().flatten())
}

pub(super) fn insert_certifications<'a>(
    conn: &Connection,
    all: impl IntoIterator<Item = &'a Certification>,
) -> Result<(), DbError> {
    let mut certifications = conn
        .prepare(
            "INSERT INTO certifications (employee_id, course_code, weapon_class, completed_on,
                                         expires_at, instructor_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .context("preparing the certification insert")?;
    for certification in all {
        certifications
            .execute((
                certification.employee_id.as_str(),
                &certification.course_code,
                certification.class.as_str(),
                certification.completed_on.to_string(),
                utc_text(certification.expires_at),
                certification.instructor.as_str(),
            ))
            .map_err(|source| DbError::Insert {
                table: "certifications",
                key: format!(
                    "{}/{}",
                    certification.employee_id, certification.course_code
                ),
                source,
            })?;
    }
    Ok(())
}

fn upsert_pin_hash(conn: &Connection, employee_id: &EmployeeId, phc: &str) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO pin_hashes (employee_id, phc) VALUES (?1, ?2)
         ON CONFLICT (employee_id) DO UPDATE SET phc = excluded.phc",
        (employee_id.as_str(), phc),
    )
    .map(drop)
    .map_err(|source| DbError::Insert {
        table: "pin_hashes",
        key: employee_id.to_string(),
        source,
    })
}

/// Reads a text column and parses it, naming the row and column on failure.
pub(super) fn parsed<T, E: ToString>(
    row: &Row<'_>,
    index: usize,
    table: &'static str,
    key: &str,
    column: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, DbError> {
    let text: String = row.get(index).context("reading a stored row")?;
    parse(&text).map_err(|error| DbError::Corrupt {
        table,
        key: key.to_owned(),
        column,
        detail: error.to_string(),
    })
}

fn locker_from_row(row: &Row<'_>) -> Result<Locker, DbError> {
    let id: String = row.get(0).context("reading lockers")?;
    Ok(Locker {
        site: SiteId(row.get(1).context("reading lockers")?),
        model: row.get(2).context("reading lockers")?,
        compartments: parsed(row, 3, "lockers", &id, "compartments", |t| {
            serde_json::from_str(t)
        })?,
        readers: parsed(row, 4, "lockers", &id, "readers", |t| {
            serde_json::from_str(t)
        })?,
        id: LockerId(id),
    })
}

fn person_from_row(row: &Row<'_>) -> Result<Person, DbError> {
    let id: String = row.get(0).context("reading people")?;
    Ok(Person {
        last_name: row.get(1).context("reading people")?,
        first_name: row.get(2).context("reading people")?,
        rank: row.get(3).context("reading people")?,
        role: parsed(row, 4, "people", &id, "role", FromStr::from_str)?,
        home_site: SiteId(row.get(5).context("reading people")?),
        status: parsed(row, 6, "people", &id, "status", FromStr::from_str)?,
        badge: parsed(row, 7, "people", &id, "badge_uid", BadgeUid::parse)?,
        hire_date: parsed(row, 8, "people", &id, "hire_date", FromStr::from_str)?,
        employee_id: EmployeeId(id),
    })
}

fn certification_from_row(row: &Row<'_>) -> Result<Certification, DbError> {
    let id: i64 = row.get(0).context("reading certifications")?;
    let key = id.to_string();
    let table = "certifications";
    Ok(Certification {
        employee_id: EmployeeId(row.get(1).context("reading certifications")?),
        course_code: row.get(2).context("reading certifications")?,
        class: parsed(row, 3, table, &key, "weapon_class", FromStr::from_str)?,
        completed_on: parsed(row, 4, table, &key, "completed_on", FromStr::from_str)?,
        expires_at: parsed(row, 5, table, &key, "expires_at", parse_utc)?,
        instructor: EmployeeId(row.get(6).context("reading certifications")?),
    })
}
