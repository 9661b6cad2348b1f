//! JSON input into typed request bodies, with the same errors for HTTP bodies and
//! Socket.IO payloads: a body must be a JSON object (serde would otherwise read an
//! array into a struct by position), and a wrong or missing field is reported by its
//! path (`participants[0].userId`) so the client knows what to fix.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// Reads a JSON object into `T`; anything else is `invalid_json` or `invalid_field`.
pub fn from_json_object<T: DeserializeOwned>(value: Value) -> Result<T> {
    if !value.is_object() {
        return Err(Error::InvalidJson("expected a JSON object".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // A missing field is reported at its parent's path; name the field itself.
        let field = match inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(missing) if path == "." => missing.to_owned(),
            Some(missing) => format!("{path}.{missing}"),
            None => path,
        };
        Error::invalid_field(field, inner)
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        order_id: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    fn field_of(value: Value) -> String {
        match from_json_object::<Body>(value).unwrap_err() {
            Error::InvalidField { field, .. } => field,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(json!({ "items": [] })), "orderId");
        assert_eq!(field_of(json!({ "orderId": 5, "items": [] })), "orderId");
        assert_eq!(field_of(json!({ "orderId": "o", "items": [{}] })), "items[0].name");
    }

    #[test]
    fn only_objects_are_bodies() {
        assert_eq!(
            from_json_object::<Body>(json!(["o", []])).unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(from_json_object::<Body>(json!("o")).unwrap_err().code(), "invalid_json");
    }
}
