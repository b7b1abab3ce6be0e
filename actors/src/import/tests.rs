//! Tests of the importer: the demo agency reads, messy but valid exports
//! are accepted, and each kind of fault is named by file, line and column.
//! Faults between files are tested in `tests/cross_file.rs`.

mod cross_file;

use std::path::PathBuf;

use super::*;
use crate::domain::{CompartmentSize, PersonStatus, ReaderKind, Role, WeaponClass};

/// The demo agency shipped with the service.
fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/demo")
}

/// Fails unless `errors` has exactly one fault at `line` in `column`
/// whose message contains `says`.
#[track_caller]
fn assert_fault(errors: &ImportErrors, file: &str, line: usize, column: Option<&str>, says: &str) {
    let matching = errors
        .iter()
        .filter(|error| {
            error.file == file
                && error.line == line
                && error.column.as_deref() == column
                && error.message.contains(says)
        })
        .count();
    assert_eq!(
        matching, 1,
        "wanted {file}:{line} {column:?} {says:?}, got:\n{errors}"
    );
}

#[track_caller]
fn only_fault(
    result: Result<impl std::fmt::Debug, ImportErrors>,
    file: &str,
    line: usize,
    column: Option<&str>,
    says: &str,
) {
    let errors = result.expect_err("the file has a fault");
    assert_eq!(errors.len(), 1, "one fault expected, got:\n{errors}");
    assert_fault(&errors, file, line, column, says);
}

#[test]
fn the_demo_agency_reads_in_full() {
    let data = AgencyData::load_dir(&demo_dir()).expect("demo data is valid");

    // Row counts of the files in config/demo, header excluded.
    assert_eq!(data.armory.sites.len(), 34);
    assert_eq!(data.armory.lockers.len(), 52);
    assert_eq!(data.armory.weapons.len(), 906);
    assert_eq!(data.personnel.people.len(), 612);
    let certifications: usize = data.personnel.certifications.values().map(Vec::len).sum();
    assert_eq!(certifications, 2385);
    assert_eq!(data.pins.len(), 612);
    assert!(data.personnel.pin_hashes.is_empty());

    // Spot checks: the one office in Mountain time, a quoted name with a
    // comma, a locker layout and a weapon fresh from import.
    assert_eq!(data.armory.sites[&"ONO".into()].timezone, "America/Boise");
    assert_eq!(
        data.personnel.people[&"E40039".into()].last_name,
        "Brooks, Jr."
    );
    let locker = &data.armory.lockers[&"SLM-L2".into()];
    assert_eq!(locker.compartments.len(), 18);
    assert_eq!(locker.compartments[7], CompartmentSize::Small);
    assert_eq!(locker.compartments[8], CompartmentSize::Medium);
    assert_eq!(locker.compartments[12], CompartmentSize::Large);
    assert_eq!(
        locker.readers,
        vec![ReaderKind::BadgePin, ReaderKind::BadgeFingerprint]
    );
    let weapon = &data.armory.weapons[&"LL-01002".into()];
    assert_eq!((weapon.compartment, weapon.class), (3, WeaponClass::Cew));
    assert_eq!(weapon.sign_outs_since_service, 108);
    assert_eq!(weapon.total_sign_outs, 108);
    assert_eq!(weapon.holder, None);
}

#[test]
fn messy_but_valid_exports_are_accepted() {
    let roster = "\u{FEFF}employee_id , last_name,first_name,rank,role,home_site,status,\
                  badge_uid,hire_date\r\n \
                  E1 , \"Brooks, Jr.\" ,José,\
                  Trooper, officer ,SLM,active, 618c664a ,2014-02-17\r\n\
                  E2,Nguyen,Siobhán,\"Senior Trooper\",armorer,SLM,leave,AB01,2011-04-07\r\n\
                  \r\n   \r\n,,,,,,,,\r\n";
    let people = parse_roster("roster.csv", roster.as_bytes()).expect("tolerated");

    assert_eq!(people.len(), 2);
    assert_eq!(people[0].employee_id.as_str(), "E1");
    assert_eq!(people[0].last_name, "Brooks, Jr.");
    assert_eq!(people[0].badge.reveal(), "618C664A");
    assert_eq!(people[0].role, Role::Officer);
    assert_eq!(people[1].rank, "Senior Trooper");
    assert_eq!(people[1].status, PersonStatus::Leave);
}

#[test]
fn columns_may_come_in_another_order() {
    let sites = "timezone,site_id,name\nAmerica/Boise,ONO,Ontario\n";
    let sites = parse_sites("sites.csv", sites.as_bytes()).expect("same columns");
    assert_eq!(sites[0].id.as_str(), "ONO");
    assert_eq!(sites[0].timezone, "America/Boise");
}

#[test]
fn errors_display_file_line_and_column() {
    let roster = "employee_id,last_name,first_name,rank,role,home_site,status,badge_uid,\
                  hire_date\nE1,A,B,Trooper,officer,SLM,active,XYZ,2014-02-17\n";
    let errors = parse_roster("roster.csv", roster.as_bytes()).expect_err("bad badge");
    let shown = errors.to_string();
    assert!(
        shown.starts_with("roster.csv:2: column badge_uid: badge UID \"XYZ\" is not"),
        "{shown}"
    );
}

const ROSTER_HEADER: &str =
    "employee_id,last_name,first_name,rank,role,home_site,status,badge_uid,hire_date\n";

fn roster(rows: &[&str]) -> String {
    let mut text = ROSTER_HEADER.to_owned();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

#[test]
fn roster_faults_are_named() {
    let good = "E1,A,B,Trooper,officer,SLM,active,0A0B,2014-02-17";
    let cases = [
        (
            "E2,A,B,Trooper,officer,SLM,active,0A0C,2014-02-30",
            "hire_date",
            "not a date",
        ),
        (
            "E2,A,B,Trooper,sheriff,SLM,active,0A0C,2014-02-17",
            "role",
            "\"sheriff\"",
        ),
        (
            "E2,A,B,Trooper,officer,SLM,retired,0A0C,2014-02-17",
            "status",
            "\"retired\"",
        ),
        (
            "E2,A,B,Trooper,officer,SLM,active,0G0C,2014-02-17",
            "badge_uid",
            "hex",
        ),
        (
            "E2,,B,Trooper,officer,SLM,active,0A0C,2014-02-17",
            "last_name",
            "empty required",
        ),
        (
            "E1,A,B,Trooper,officer,SLM,active,0A0C,2014-02-17",
            "employee_id",
            "line 2",
        ),
        (
            "E2,A,B,Trooper,officer,SLM,active,0a0b,2014-02-17",
            "badge_uid",
            "…0A0B",
        ),
    ];
    for (row, column, says) in cases {
        let text = roster(&[good, row]);
        let result = parse_roster("roster.csv", text.as_bytes());
        only_fault(result, "roster.csv", 3, Some(column), says);
    }
}

#[test]
fn a_duplicate_badge_error_does_not_reveal_the_badge() {
    let text = roster(&[
        "E1,A,B,Trooper,officer,SLM,active,618C664A,2014-02-17",
        "E2,A,B,Trooper,officer,SLM,active,618c664a,2014-02-17",
    ]);
    let errors = parse_roster("roster.csv", text.as_bytes()).expect_err("duplicate");
    assert!(!errors.to_string().contains("618C"), "{errors}");
}

#[test]
fn wrong_field_counts_are_named_by_line() {
    let text = roster(&[
        "E1,A,B,Trooper,officer,SLM,active,0A0B,2014-02-17,extra",
        "E2,A,B,Trooper,officer,SLM,active,0A0C",
    ]);
    let errors = parse_roster("roster.csv", text.as_bytes()).expect_err("field counts");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(
        &errors,
        "roster.csv",
        2,
        None,
        "expected 9 fields, found 10",
    );
    assert_fault(&errors, "roster.csv", 3, None, "expected 9 fields, found 8");
}

#[test]
fn a_file_with_three_faults_reports_three_errors() {
    let text = roster(&[
        "E1,A,B,Trooper,officer,SLM,active,0A0B,2014-13-01",
        "E2,A,B,Trooper,officer,SLM,active,0A0C,2014-02-17",
        "E3,A,B,Trooper,cadet,SLM,active,0A0D,2014-02-17",
        "E2,A,B,Trooper,officer,SLM,active,0A0E,2014-02-17",
    ]);
    let errors = parse_roster("roster.csv", text.as_bytes()).expect_err("three faults");
    assert_eq!(errors.len(), 3, "{errors}");
    assert_fault(&errors, "roster.csv", 2, Some("hire_date"), "not a date");
    assert_fault(&errors, "roster.csv", 4, Some("role"), "\"cadet\"");
    assert_fault(&errors, "roster.csv", 5, Some("employee_id"), "duplicate");
}

#[test]
fn two_faults_in_one_row_are_both_reported() {
    let text = roster(&["E1,A,B,Trooper,boss,SLM,gone,0A0B,2014-02-17"]);
    let errors = parse_roster("roster.csv", text.as_bytes()).expect_err("two faults");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "roster.csv", 2, Some("role"), "boss");
    assert_fault(&errors, "roster.csv", 2, Some("status"), "gone");
}

#[test]
fn errors_stop_being_kept_after_the_cap() {
    let bad = "E1,A,B,Trooper,officer,SLM,active,0A0B,not-a-date";
    let rows = vec![bad; MAX_ERRORS_PER_FILE + 50];
    let errors = parse_roster("roster.csv", roster(&rows).as_bytes()).expect_err("many faults");
    assert_eq!(errors.len(), MAX_ERRORS_PER_FILE + 1);
    let last = errors.iter().last().expect("a summary entry");
    assert!(last.message.contains("more errors"), "{last}");
}

#[test]
fn headers_must_have_exactly_the_expected_columns() {
    let sites = "site_id,name,zone\nSLM,Salem,America/Los_Angeles\n";
    let errors = parse_sites("sites.csv", sites.as_bytes()).expect_err("bad header");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "sites.csv", 1, Some("zone"), "unknown column");
    assert_fault(&errors, "sites.csv", 1, Some("timezone"), "missing column");

    only_fault(
        parse_sites("sites.csv", b"\n\n"),
        "sites.csv",
        1,
        None,
        "no header",
    );
}

#[test]
fn site_faults_are_named() {
    let sites = "site_id,name,timezone\nSLM,Salem,America/Los_Angeles\n\
                 ONO,Ontario,Mountain Time\nSLM,Again,America/Los_Angeles\n";
    let errors = parse_sites("sites.csv", sites.as_bytes()).expect_err("faults");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "sites.csv", 3, Some("timezone"), "IANA");
    assert_fault(
        &errors,
        "sites.csv",
        4,
        Some("site_id"),
        "duplicate site id",
    );
}

#[test]
fn locker_faults_are_named() {
    let header = "site_id,locker_id,model,small,medium,large,readers\n";
    let cases = [
        ("SLM,L2,UT,2,1,1,badge+iris", "readers", "\"badge+iris\""),
        ("SLM,L2,UT,2,x,1,badge+pin", "medium", "whole number"),
        ("SLM,L2,UT,0,0,0,badge+pin", "large", "1 to 65535"),
        (
            "SLM,L1,UT,2,1,1,badge+pin",
            "locker_id",
            "duplicate locker id",
        ),
        ("SLM,L2,UT,2,1,1,", "readers", "empty required"),
    ];
    for (row, column, says) in cases {
        let text = format!("{header}SLM,L1,UT,2,1,1,badge+pin\n{row}\n");
        let result = parse_lockers("lockers.csv", text.as_bytes());
        only_fault(result, "lockers.csv", 3, Some(column), says);
    }
}

const INVENTORY_HEADER: &str = "asset_tag,serial_number,make,model,weapon_class,site_id,\
                                locker_id,compartment,compartment_size,status,\
                                sign_outs_since_service,last_service_date\n";

#[test]
fn inventory_faults_are_named() {
    let good = "LL-1,S1,Axon,T10,cew,SLM,L1,1,S,in_service,3,2026-02-23";
    let cases = [
        (
            "LL-1,S2,Axon,T10,cew,SLM,L1,2,S,in_service,3,2026-02-23",
            "asset_tag",
            "LL-1",
        ),
        (
            "LL-2,S2,Axon,T10,rifle,SLM,L1,2,S,in_service,3,2026-02-23",
            "weapon_class",
            "rifle",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,2,XL,in_service,3,2026-02-23",
            "compartment_size",
            "XL",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,2,S,lost,3,2026-02-23",
            "status",
            "\"lost\"",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,0,S,in_service,3,2026-02-23",
            "compartment",
            "from 1",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,1,S,in_service,3,2026-02-23",
            "compartment",
            "line 2",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,2,S,in_service,-1,2026-02-23",
            "sign_outs_since_service",
            "whole",
        ),
        (
            "LL-2,S2,Axon,T10,cew,SLM,L1,2,S,in_service,3,23/02/2026",
            "last_service_date",
            "date",
        ),
    ];
    for (row, column, says) in cases {
        let text = format!("{INVENTORY_HEADER}{good}\n{row}\n");
        let result = parse_inventory("inventory.csv", text.as_bytes());
        only_fault(result, "inventory.csv", 3, Some(column), says);
    }
}

#[test]
fn training_and_pin_faults_are_named() {
    let training = "employee_id,course_code,weapon_class,completed_on,expires_at,instructor_id\n\
                    E1,C,cew,2025-10-31,2026-10-30T23:59:59Z,E9\n\
                    E1,C,cew,2025-10-31,2026-10-30 23:59,E9\n";
    let result = parse_training("training.csv", training.as_bytes());
    only_fault(
        result,
        "training.csv",
        3,
        Some("expires_at"),
        "not an instant",
    );

    let pins = "employee_id,pin\nE1,1234\nE2,12a4\nE1,5678\n";
    let errors = parse_pins("pins.csv", pins.as_bytes()).expect_err("faults");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "pins.csv", 3, Some("pin"), "4 to 12 digits");
    assert_fault(&errors, "pins.csv", 4, Some("employee_id"), "duplicate");
    assert!(!errors.to_string().contains("12a4"), "{errors}");
}

#[test]
fn syntax_faults_are_named_by_line() {
    let sites = "site_id,name,timezone\r\nSLM,\"Salem\" HQ,America/Los_Angeles\r\n\
                 ONO,\"Ontario,America/Boise\r\n";
    let errors = parse_sites("sites.csv", sites.as_bytes()).expect_err("faults");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "sites.csv", 2, None, "after a closing quote");
    assert_fault(&errors, "sites.csv", 3, None, "never closed");

    let bytes = b"site_id,name,timezone\nSLM,Sal\xFFem,America/Los_Angeles\n";
    only_fault(
        parse_sites("sites.csv", bytes),
        "sites.csv",
        2,
        None,
        "UTF-8",
    );
}
