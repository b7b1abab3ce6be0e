//! Tests of the checks between files: every reference to a site, locker,
//! compartment or person must land, and a file is checked against
//! another only when both read cleanly.

use super::{assert_fault, demo_dir};
use crate::import::{AgencyData, AgencyFiles, ImportErrors};

const SITES: &str = "site_id,name,timezone\n\
                     SLM,Salem,America/Los_Angeles\n\
                     ONO,Ontario,America/Boise\n";
const LOCKERS: &str = "site_id,locker_id,model,small,medium,large,readers\n\
                       SLM,SLM-L1,UT,2,1,1,badge+pin\n\
                       ONO,ONO-L1,UT,1,0,1,badge+pin;badge+fingerprint\n";
const INVENTORY: &str = "asset_tag,serial_number,make,model,weapon_class,site_id,\
                         locker_id,compartment,compartment_size,status,\
                         sign_outs_since_service,last_service_date\n\
                         LL-1,S1,Axon,T10,cew,SLM,SLM-L1,1,S,in_service,3,2026-02-23\n\
                         LL-2,S2,Byrna,PB,pepperball,SLM,SLM-L1,3,M,in_service,0,2026-01-02\n\
                         LL-3,S3,Rem,870,beanbag_shotgun,ONO,ONO-L1,2,L,needs_service,9,\
                         2025-12-01\n";
const ROSTER: &str = "employee_id,last_name,first_name,rank,role,home_site,status,\
                      badge_uid,hire_date\n\
                      E1,Petersen,Grace,Trooper,officer,SLM,active,618C664A,2014-02-17\n\
                      E2,Nguyen,Tariq,Armorer,armorer,ONO,active,F9952931,2006-06-29\n";
const TRAINING: &str = "employee_id,course_code,weapon_class,completed_on,expires_at,\
                        instructor_id\n\
                        E1,CEW,cew,2025-10-31,2026-10-30T23:59:59Z,X999\n\
                        E1,PB,pepperball,2026-10-26,2027-10-25T23:59:59Z,E2\n";
const PINS: &str = "employee_id,pin\nE1,963737\n";

fn files() -> AgencyFiles {
    AgencyFiles {
        sites: SITES.into(),
        lockers: LOCKERS.into(),
        inventory: INVENTORY.into(),
        roster: ROSTER.into(),
        training: TRAINING.into(),
        pins: Some(PINS.into()),
    }
}

fn append(file: &mut Vec<u8>, row: &str) {
    file.extend_from_slice(row.as_bytes());
    file.push(b'\n');
}

fn rejected(files: &AgencyFiles) -> ImportErrors {
    AgencyData::from_files(files).expect_err("the files disagree")
}

#[test]
fn a_consistent_agency_is_assembled() {
    let data = AgencyData::from_files(&files()).expect("consistent");
    assert_eq!(data.armory.sites.len(), 2);
    assert_eq!(data.armory.lockers.len(), 2);
    assert_eq!(data.armory.weapons.len(), 3);
    assert_eq!(data.personnel.certifications_of(&"E1".into()).len(), 2);
    assert_eq!(data.pins, vec![("E1".into(), "963737".to_owned())]);
    assert!(!format!("{data:?}").contains("963737"));

    let without_pins = AgencyFiles {
        pins: None,
        ..files()
    };
    let data = AgencyData::from_files(&without_pins).expect("pins are optional");
    assert!(data.pins.is_empty());
}

#[test]
fn references_to_missing_things_are_named() {
    let mut files = files();
    append(&mut files.lockers, "PDX,PDX-L1,UT,1,1,1,badge+pin");
    append(
        &mut files.roster,
        "E3,A,B,Trooper,officer,EUG,active,0A0B,2014-02-17",
    );
    append(
        &mut files.training,
        "E7,CEW,cew,2025-10-31,2026-10-30T23:59:59Z,E1",
    );
    let pins = files.pins.get_or_insert_with(Vec::new);
    append(pins, "E8,1234");

    let errors = rejected(&files);
    assert_eq!(errors.len(), 4, "{errors}");
    assert_fault(
        &errors,
        "lockers.csv",
        4,
        Some("site_id"),
        "unknown site PDX",
    );
    assert_fault(
        &errors,
        "roster.csv",
        4,
        Some("home_site"),
        "unknown site EUG",
    );
    assert_fault(
        &errors,
        "training.csv",
        4,
        Some("employee_id"),
        "unknown employee E7",
    );
    assert_fault(
        &errors,
        "pins.csv",
        3,
        Some("employee_id"),
        "unknown employee E8",
    );
}

#[test]
fn weapons_must_fit_the_layout() {
    let mut files = files();
    let rows = [
        "LL-4,S4,Axon,T10,cew,PDX,SLM-L1,2,S,in_service,0,2026-02-23",
        "LL-5,S5,Axon,T10,cew,SLM,SLM-L9,1,S,in_service,0,2026-02-23",
        "LL-6,S6,Axon,T10,cew,SLM,SLM-L1,5,L,in_service,0,2026-02-23",
        "LL-7,S7,Axon,T10,cew,SLM,SLM-L1,4,S,in_service,0,2026-02-23",
        "LL-8,S8,Axon,T10,cew,SLM,ONO-L1,1,S,in_service,0,2026-02-23",
    ];
    for row in rows {
        append(&mut files.inventory, row);
    }

    let errors = rejected(&files);
    assert_eq!(errors.len(), 6, "{errors}");
    assert_fault(
        &errors,
        "inventory.csv",
        5,
        Some("site_id"),
        "unknown site PDX",
    );
    assert_fault(&errors, "inventory.csv", 5, Some("locker_id"), "not PDX");
    assert_fault(
        &errors,
        "inventory.csv",
        6,
        Some("locker_id"),
        "unknown locker SLM-L9",
    );
    assert_fault(
        &errors,
        "inventory.csv",
        7,
        Some("compartment"),
        "1 to 4, not 5",
    );
    assert_fault(
        &errors,
        "inventory.csv",
        8,
        Some("compartment_size"),
        "is L, not S",
    );
    assert_fault(
        &errors,
        "inventory.csv",
        9,
        Some("locker_id"),
        "stands at site ONO",
    );
}

#[test]
fn a_broken_file_does_not_flood_the_files_that_refer_to_it() {
    let mut files = files();
    files.sites = "site_id,name\nSLM,Salem\n".into();
    append(
        &mut files.roster,
        "E3,A,B,Trooper,officer,SLM,active,0A0B,not-a-date",
    );

    let errors = rejected(&files);
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(&errors, "sites.csv", 1, Some("timezone"), "missing column");
    assert_fault(&errors, "roster.csv", 4, Some("hire_date"), "not a date");
}

#[test]
fn unreadable_files_are_named_by_path() {
    let dir = std::env::temp_dir().join(format!("armory-no-such-dir-{}", std::process::id()));
    let errors = AgencyData::load_dir(&dir).expect_err("nothing to read");

    // Five required files; the missing pins.csv is not a fault.
    assert_eq!(errors.len(), 5, "{errors}");
    let roster = dir.join("roster.csv").display().to_string();
    assert_fault(&errors, &roster, 0, None, "cannot read");
    assert!(errors.to_string().contains(&roster));
}

#[test]
fn the_demo_files_read_through_agency_files_too() {
    let files = AgencyFiles::read_dir(&demo_dir()).expect("readable");
    assert!(files.pins.is_some());
    assert!(!format!("{files:?}").contains("963737"));
}

#[test]
fn good_rows_of_a_faulty_file_are_still_checked_against_the_others() {
    let mut files = files();
    append(
        &mut files.inventory,
        "LL-4,S4,Axon,T10,cew,SLM,SLM-L1,2,S,in_service,0,someday",
    );
    append(
        &mut files.inventory,
        "LL-5,S5,Axon,T10,cew,SLM,SLM-L1,4,S,in_service,0,2026-02-23",
    );

    let errors = rejected(&files);
    assert_eq!(errors.len(), 2, "{errors}");
    assert_fault(
        &errors,
        "inventory.csv",
        5,
        Some("last_service_date"),
        "not a date",
    );
    assert_fault(
        &errors,
        "inventory.csv",
        6,
        Some("compartment_size"),
        "is L, not S",
    );
}
