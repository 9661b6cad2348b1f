//! `input::from_json_object` into the real request bodies: anything but an object is
//! `invalid_json`; a wrong or missing field is `invalid_field` naming a field of that
//! body; what parses has the shape the body promises.

use orderchat::chat::{OrderUpdate, PutOrder, SendMessage};
use orderchat::error::Result;
use orderchat::input::from_json_object;
use proptest::prelude::*;
use serde_json::Value;

use crate::contract::{check_refusal, config, field_of};
use crate::strategies::any_body;

/// The refusal names one of `fields` (the body's own), by itself or as the root of a
/// path such as `participants[0].userId`.
fn check_body_refusal<T>(value: &Value, result: &Result<T>, fields: &[&str]) -> Result<(), TestCaseError> {
    let Err(err) = result else { return Ok(()) };
    check_refusal(err, &["invalid_json", "invalid_field"])?;
    if !value.is_object() {
        prop_assert_eq!(err.code(), "invalid_json");
        return Ok(());
    }
    let field = field_of(err).unwrap_or_default();
    let root = field.split(['.', '[']).next().unwrap_or_default();
    prop_assert!(
        fields.contains(&root),
        "refusal names {field:?}, not a field of the body: {err}"
    );
    Ok(())
}

fn is_id(value: &Value) -> bool {
    value.is_string() || value.is_number()
}

fn absent_or(value: Option<&Value>, ok: impl Fn(&Value) -> bool) -> bool {
    value.is_none_or(|v| v.is_null() || ok(v))
}

fn is_participant_list(value: &Value) -> bool {
    value.as_array().is_some_and(|list| {
        list.iter().all(|p| {
            p.get("userId").is_some_and(is_id)
                && p.get("role").is_some_and(Value::is_string)
                && absent_or(p.get("name"), Value::is_string)
        })
    })
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn send_message_body_parses_or_names_the_field(value in any_body()) {
        let result = from_json_object::<SendMessage>(value.clone());
        check_body_refusal(
            &value,
            &result,
            &["orderId", "message", "messageType", "attachments", "replyTo", "clientId"],
        )?;
        if let Ok(body) = result {
            prop_assert!(value.get("orderId").is_some_and(is_id));
            // `message` may be left out (a file message without a caption): it is then "".
            prop_assert_eq!(value.get("message").and_then(Value::as_str), body.message.as_deref());
            let known_type = |t: &Value| matches!(t.as_str(), Some("text" | "system" | "file"));
            prop_assert!(absent_or(value.get("messageType"), known_type));
            let string_list = |a: &Value| a.as_array().is_some_and(|list| list.iter().all(Value::is_string));
            prop_assert!(absent_or(value.get("attachments"), string_list));
            prop_assert!(absent_or(value.get("clientId"), is_id));
        }
    }

    #[test]
    fn put_order_body_parses_or_names_the_field(value in any_body()) {
        let result = from_json_object::<PutOrder>(value.clone());
        check_body_refusal(&value, &result, &["number", "status", "participants"])?;
        if let Ok(body) = result {
            prop_assert!(value.get("participants").is_some_and(is_participant_list));
            prop_assert_eq!(body.participants.len(), value["participants"].as_array().map_or(0, Vec::len));
            prop_assert!(absent_or(value.get("number"), is_id));
            prop_assert!(absent_or(value.get("status"), Value::is_string));
        }
    }

    #[test]
    fn order_update_body_parses_or_names_the_field(value in any_body()) {
        let result = from_json_object::<OrderUpdate>(value.clone());
        check_body_refusal(&value, &result, &["status", "note", "participants"])?;
        if result.is_ok() {
            prop_assert!(absent_or(value.get("participants"), is_participant_list));
            prop_assert!(absent_or(value.get("status"), Value::is_string));
            prop_assert!(absent_or(value.get("note"), Value::is_string));
        }
    }
}
