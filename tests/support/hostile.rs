//! Generators of hostile input for the property tests: any JSON, JSON
//! shaped like a sealed envelope with random values in its fields, and
//! payloads that mix those with raw bytes.

#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, nested a few levels.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// JSON shaped like an envelope, with random values in its fields, some of
/// them right.
pub fn envelope_like() -> impl Strategy<Value = Value> {
    let field = |good: Value| prop_oneof![2 => Just(good), 1 => json()];
    let body = prop_oneof![
        Just(serde_json::json!({"type": "heartbeat"})),
        Just(serde_json::json!({"type": "scan", "badge_uid": "618C664A",
            "request": {"action": "return"}})),
        Just(serde_json::json!({"type": "unlock",
            "transaction": "6f1c2a64-3f55-4c0c-9d0e-0d6f7f2f9a11", "purpose": "sign_out"})),
        Just(
            serde_json::json!({"type": "controller_online", "firmware": "x".repeat(200),
            "readers": [], "compartments": 0})
        ),
        json(),
    ];
    (
        field(Value::from(1)),
        field(Value::from("6f1c2a64-3f55-4c0c-9d0e-0d6f7f2f9a11")),
        field(Value::from("SLM-L1")),
        field(Value::from(7u64)),
        field(Value::from("2026-12-03T14:00:00Z")),
        field(Value::from("2026-12-03T14:00:05Z")),
        body,
        prop_oneof![
            Just(Value::from("00".repeat(32))),
            "[0-9a-f]{0,80}".prop_map(Value::from)
        ],
        prop::option::of((".{1,10}", json())),
    )
        .prop_map(
            |(v, id, sender, counter, at, expires_at, body, tag, extra)| {
                let mut object = serde_json::json!({"v": v, "id": id, "sender": sender,
                "counter": counter, "at": at, "expires_at": expires_at, "body": body,
                "tag": tag});
                if let (Some((name, value)), Some(map)) = (extra, object.as_object_mut()) {
                    map.insert(name, value);
                }
                object
            },
        )
}

/// A payload as an attacker might send it: raw bytes, any JSON, JSON
/// shaped like an envelope, or something too large.
pub fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..2_000),
        2 => json().prop_map(|value| serde_json::to_vec(&value).expect("JSON serialises")),
        3 => envelope_like().prop_map(|value| serde_json::to_vec(&value).expect("JSON serialises")),
        1 => Just(vec![b'{'; 9 * 1024]),
    ]
}
