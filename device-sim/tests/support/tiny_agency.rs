//! A tiny agency for tests: one office, one locker with a keypad and a
//! fingerprint reader, three weapons, and four people chosen so that each
//! rule of crew selection has a case.
//!
//! - E1 is active, certified for `cew`: two `cew` weapons are at home.
//! - E2 is suspended, certified for `cew`, with a PIN.
//! - E3 is active, certified only for `pepperball`, whose one weapon needs
//!   service: nothing to draw.
//! - E4 is active; their `cew` certification's last valid second is
//!   [`LAST_SECOND_OF_E4`].

use armory_actors::import::{AgencyData, AgencyFiles};
use jiff::Timestamp;

/// The last instant at which E4 is certified.
pub const LAST_SECOND_OF_E4: &str = "2026-12-03T14:00:00Z";

const SITES: &str = "\
site_id,name,timezone
TST,Test Office,America/Los_Angeles
";

const LOCKERS: &str = "\
site_id,locker_id,model,small,medium,large,readers
TST,TST-L1,UT-Series,2,1,1,badge+pin;badge+fingerprint
";

const INVENTORY: &str = "\
asset_tag,serial_number,make,model,weapon_class,site_id,locker_id,\
    compartment,compartment_size,status,sign_outs_since_service,last_service_date
TT-0001,SN0001,Axon,TASER 10,cew,TST,TST-L1,1,S,in_service,0,2026-01-01
TT-0002,SN0002,Axon,TASER 10,cew,TST,TST-L1,2,S,in_service,0,2026-01-01
TT-0003,SN0003,FN,303,pepperball,TST,TST-L1,3,M,needs_service,0,2026-01-01
";

const ROSTER: &str = "\
employee_id,last_name,first_name,rank,role,home_site,status,badge_uid,hire_date
E1,Able,Ann,Trooper,officer,TST,active,A1B2C3D4,2010-01-01
E2,Baker,Bob,Trooper,officer,TST,suspended,B1B2C3D4,2010-01-01
E3,Carter,Cy,Trooper,officer,TST,active,C1B2C3D4,2010-01-01
E4,Dale,Di,Trooper,officer,TST,active,D1B2C3D4,2010-01-01
";

const TRAINING: &str = "\
employee_id,course_code,weapon_class,completed_on,expires_at,instructor_id
E1,LL-CEW,cew,2026-01-01,2027-01-01T00:00:00Z,E3
E2,LL-CEW,cew,2026-01-01,2027-01-01T00:00:00Z,E3
E3,LL-PB,pepperball,2026-01-01,2027-01-01T00:00:00Z,E1
E4,LL-CEW,cew,2025-12-03,2026-12-03T14:00:00Z,E3
";

const PINS: &str = "\
employee_id,pin
E1,1234
E2,2345
E3,3456
E4,4567
";

/// The tiny agency, imported by the real importer.
pub fn tiny_agency() -> AgencyData {
    let files = AgencyFiles {
        sites: SITES.as_bytes().to_vec(),
        lockers: LOCKERS.as_bytes().to_vec(),
        inventory: INVENTORY.as_bytes().to_vec(),
        roster: ROSTER.as_bytes().to_vec(),
        training: TRAINING.as_bytes().to_vec(),
        pins: Some(PINS.as_bytes().to_vec()),
    };
    match AgencyData::from_files(&files) {
        Ok(agency) => agency,
        Err(errors) => panic!("the tiny agency must import: {errors}"),
    }
}

/// An instant given as RFC 3339 text.
pub fn instant(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|error| panic!("{text} is an instant: {error}"))
}
