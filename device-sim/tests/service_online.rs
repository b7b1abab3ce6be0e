//! A controller reports to a service that comes online: it announces
//! itself again and says what each closed compartment holds, whether the
//! service was online before the controller connected (retained state) or
//! comes back while it is connected (a restart).

#[allow(dead_code)]
#[path = "support/tiny_agency.rs"]
mod tiny_agency;

#[path = "support/broker.rs"]
mod broker;
// Only its event side is used here; the command sealer goes unused.
#[allow(dead_code)]
#[path = "support/fake_service.rs"]
mod fake_service;

use std::collections::BTreeMap;
use std::time::Duration;

use armory_actors::domain::LockerId;
use armory_actors::protocol::{
    DeviceEvent, FleetSecret, ServiceStatePayload, Topic, SCHEMA_VERSION,
};
use armory_device_sim::{SimConfig, Simulator};
use fake_service::FakeService;

fn service_state(status: &str) -> Vec<u8> {
    let payload = ServiceStatePayload {
        v: SCHEMA_VERSION,
        status: status.to_owned(),
        lockers: 1,
        weapons: 3,
        version: "test".to_owned(),
    };
    serde_json::to_vec(&payload).unwrap_or_else(|error| panic!("plain data: {error}"))
}

/// The announcement and the four compartments' readings that follow it.
async fn report(service: &mut FakeService) -> BTreeMap<u16, bool> {
    let announced = service.next_not_heartbeat().await;
    assert!(
        matches!(announced.event.body, DeviceEvent::ControllerOnline { .. }),
        "the report starts with an announcement, not {:?}",
        announced.event.body
    );
    let mut doors = BTreeMap::new();
    while doors.len() < 4 {
        let received = service.next_not_heartbeat().await;
        let (
            Topic::CompartmentEvent { compartment, .. },
            DeviceEvent::DoorClosed { weapon_present },
        ) = (received.topic, received.event.body)
        else {
            panic!("only closed doors follow the announcement");
        };
        assert_eq!(doors.insert(compartment, weapon_present), None);
    }
    doors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_reports_its_doors_whenever_the_service_comes_online() {
    let broker = broker::start_broker().await;
    let secret = FleetSecret::generate();
    let mut service =
        FakeService::start(broker, secret.locker_key(&LockerId::from("TST-L1"))).await;

    // The service is online before the controller connects.
    service
        .send(&Topic::ServiceState, service_state("online"), true)
        .await;
    let mut config = SimConfig::new(broker, secret, tiny_agency::tiny_agency());
    config.heartbeat_every = Duration::from_secs(3600);
    let sim = Simulator::start(config)
        .await
        .unwrap_or_else(|error| panic!("the simulator starts: {error}"));
    let first = service.next_not_heartbeat().await;
    assert!(matches!(
        first.event.body,
        DeviceEvent::ControllerOnline { .. }
    ));

    // Compartments 1 to 3 hold their weapons; 4 has none.
    let expected = BTreeMap::from([(1, true), (2, true), (3, true), (4, false)]);
    assert_eq!(report(&mut service).await, expected);

    // The service goes away and comes back: the controller reports again.
    service
        .send(&Topic::ServiceState, service_state("offline"), true)
        .await;
    service
        .send(&Topic::ServiceState, service_state("online"), true)
        .await;
    assert_eq!(report(&mut service).await, expected);

    sim.shutdown().await;
}
