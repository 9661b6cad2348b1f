//! Socket.IO payload readers: an order reference is a bare id (string or number) or
//! `{ orderId, … }`; `seq` / `sinceSeq` are absent, null or a non-negative integer.
//! Anything else is `invalid_field` naming the field.

use orderchat::realtime::payload::{optional_seq, order_ref};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::contract::{check_refusal, config, field_of, is_valid_id};
use crate::strategies::{any_body, edge_i64, hostile_string, json_number, json_value};

/// Payloads as clients send them: bare ids, `{ orderId, seq, sinceSeq }` with edge
/// values, and anything else.
fn payload() -> impl Strategy<Value = Value> {
    let seq = prop_oneof![
        edge_i64().prop_map(Value::from),
        json_number().prop_map(Value::Number),
        json_value(),
    ];
    let order_ref_object = (
        prop_oneof![
            hostile_string().prop_map(Value::String),
            json_number().prop_map(Value::Number),
            json_value(),
        ],
        prop::option::of(seq.clone()),
        prop::option::of(seq),
    )
        .prop_map(|(id, seq, since)| {
            let mut fields = Map::new();
            fields.insert("orderId".into(), id);
            if let Some(seq) = seq {
                fields.insert("seq".into(), seq);
            }
            if let Some(since) = since {
                fields.insert("sinceSeq".into(), since);
            }
            Value::Object(fields)
        });
    prop_oneof![
        2 => hostile_string().prop_map(Value::String),
        1 => json_number().prop_map(Value::Number),
        3 => order_ref_object,
        2 => any_body(),
    ]
}

/// The id text a payload carries, the way `order_ref` reads it.
fn raw_id(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn order_ref_reads_an_id_or_is_refused(data in payload()) {
        let sent_id = match &data {
            Value::Object(fields) => fields.get("orderId").and_then(raw_id),
            other => raw_id(other),
        };
        match order_ref(data.clone()) {
            Ok((id, fields)) => {
                prop_assert!(is_valid_id(id.as_str()), "{id:?}");
                prop_assert_eq!(Some(id.as_str()), sent_id.as_deref().map(str::trim));
                let mut expected = data.as_object().cloned().unwrap_or_default();
                expected.remove("orderId");
                prop_assert_eq!(&fields, &expected, "the other fields are handed on untouched");

                for name in ["seq", "sinceSeq"] {
                    match optional_seq(&fields, name) {
                        Ok(None) => prop_assert!(fields.get(name).is_none_or(Value::is_null)),
                        Ok(Some(n)) => {
                            prop_assert!(n >= 0);
                            prop_assert_eq!(fields.get(name).and_then(Value::as_i64), Some(n));
                        }
                        Err(err) => {
                            check_refusal(&err, &["invalid_field"])?;
                            prop_assert_eq!(field_of(&err), Some(name));
                        }
                    }
                }
            }
            Err(err) => {
                check_refusal(&err, &["invalid_field"])?;
                prop_assert_eq!(field_of(&err), Some("orderId"));
            }
        }
    }
}
