//! The sync protocol's bodies, as the server reads requests and laptops read answers. Each
//! body that parses must survive a round trip unchanged: what a peer sends is what the other
//! reads.

use std::fmt::Debug;

use harbour_core::Hlc;
use harbour_wire::SealedEvent;
use harbour_wire::identity::DeviceCertificate;
use harbour_wire::protocol::{
    CreateInvitationRequest, CreateInvitationResponse, DeploymentInfo, DeviceInfo, DeviceList, ErrorBody, GrantRequest,
    GrantResponse, Health, InvitationInfo, InvitationList, PublishDirectoryResponse, PullQuery, PullResponse,
    PushRequest, PushResponse, RedeemInvitationRequest, RedeemInvitationResponse, RegisterDeploymentRequest,
    RegisterDeploymentResponse, SignedDirectory, TeamDirectory,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fixture::fixture;
use crate::{seed, split_mode};

/// The number of body types (modes).
const BODIES: u8 = 24;

/// The mode chooses the body type; the rest is the body.
pub(crate) fn wire_bodies(data: &[u8]) -> bool {
    let (mode, body) = split_mode(data, BODIES);
    match mode {
        0 => json::<SealedEvent>(body),
        1 => json::<PushRequest>(body),
        2 => json::<PushResponse>(body),
        3 => json::<PullResponse>(body),
        4 => json::<SignedDirectory>(body),
        5 => json::<TeamDirectory>(body),
        6 => json::<DeviceCertificate>(body),
        7 => json::<RedeemInvitationRequest>(body),
        8 => json::<RedeemInvitationResponse>(body),
        9 => json::<RegisterDeploymentRequest>(body),
        10 => json::<RegisterDeploymentResponse>(body),
        11 => json::<DeploymentInfo>(body),
        12 => json::<CreateInvitationRequest>(body),
        13 => json::<CreateInvitationResponse>(body),
        14 => json::<InvitationInfo>(body),
        15 => json::<InvitationList>(body),
        16 => json::<DeviceInfo>(body),
        17 => json::<DeviceList>(body),
        18 => json::<GrantRequest>(body),
        19 => json::<GrantResponse>(body),
        20 => json::<Health>(body),
        21 => json::<ErrorBody>(body),
        22 => json::<PublishDirectoryResponse>(body),
        _ => {
            // The query of `GET /v1/events`, and the sortable clock text kept as a key.
            let text = String::from_utf8_lossy(body);
            let mut accepted = false;
            if let Ok(query) = serde_urlencoded::from_str::<PullQuery>(&text) {
                let again = serde_urlencoded::to_string(query).expect("a query serializes");
                assert_eq!(serde_urlencoded::from_str::<PullQuery>(&again).ok(), Some(query), "query round trip");
                accepted = true;
            }
            if let Some(hlc) = Hlc::from_sortable(&text) {
                assert_eq!(Hlc::from_sortable(&hlc.to_sortable()), Some(hlc), "clock text round trip");
                accepted = true;
            }
            accepted
        }
    }
}

/// Parses a body; if it parses, writes it and reads it back unchanged.
fn json<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<T>(body) else { return false };
    let written = serde_json::to_vec(&value).expect("a parsed body serializes");
    let again: T = serde_json::from_slice(&written).expect("a written body parses");
    assert!(again == value, "a body changed in a round trip: {}", std::any::type_name::<T>());
    true
}

pub(crate) fn wire_bodies_seeds() -> Vec<Vec<u8>> {
    let fixture = fixture();
    let grant = &fixture.grant;
    let body = |value: serde_json::Value| serde_json::to_vec(&value).expect("JSON serializes");
    vec![
        seed(0, serde_json::to_vec(grant).expect("an event serializes")),
        seed(1, serde_json::to_vec(&PushRequest { events: vec![grant.clone(), grant.clone()] }).expect("serializes")),
        seed(2, body(serde_json::json!({"events": [{"id": grant.id, "seq": 7, "already_stored": false}]}))),
        seed(
            3,
            serde_json::to_vec(&PullResponse { events: vec![grant.clone()], next_cursor: 7, more: true })
                .expect("serializes"),
        ),
        seed(4, serde_json::to_vec(&fixture.directory).expect("serializes")),
        seed(5, &fixture.directory.document),
        seed(6, serde_json::to_vec(&fixture.identity.certificate).expect("serializes")),
        seed(
            7,
            body(serde_json::json!({"device_id": fixture.device_id.0, "certificate": fixture.identity.certificate})),
        ),
        seed(12, body(serde_json::json!({"team_id": fixture.team.team_id, "admin": true, "expires_in_days": 7}))),
        seed(18, body(serde_json::json!({"team_id": fixture.team.team_id}))),
        seed(21, body(serde_json::json!({"error": "bad_request", "message": "The batch was refused."}))),
        seed(23, "after=5&limit=100"),
        seed(23, "0001764279012345-00000001"),
    ]
}
