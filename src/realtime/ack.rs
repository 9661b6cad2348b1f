//! Acknowledgements and payload parsing shared by every event handler: the one mapping
//! of `Error` to an error ack (`{ ok: false, error, code }`, the same codes as HTTP).

use serde::Serialize;
use serde_json::{Map, Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;

use crate::domain::{ForViewer, OrderId, UserId};
use crate::error::{Error, Result, retry_after_secs};
use crate::store::Inserted;

/// Answers the client's ack callback, if it gave one.
pub fn send_ack<A: Adapter>(ack: AckSender<A>, event: &'static str, result: Result<Value>) {
    let body = match result {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), true.into());
            Value::Object(fields)
        }
        Ok(_) => json!({ "ok": true }),
        Err(err) => error_body(event, &err),
    };
    if let Err(err) = ack.send(&body) {
        tracing::debug!(event, error = %err, "ack not delivered");
    }
}

/// The ack of a stored `send-message`: `{ message, duplicate, ok: true }`, serialised
/// straight from the message (it is sent by the publisher, once per message), for the
/// sender (`mine` in reactions, which a duplicate may already have).
pub fn send_stored_ack<A: Adapter>(ack: AckSender<A>, sender: &UserId, result: Result<Inserted>) {
    #[derive(Serialize)]
    struct Stored<'a> {
        message: ForViewer<'a>,
        duplicate: bool,
        ok: bool,
    }
    let sent = match result {
        Ok(inserted) => ack.send(&Stored {
            message: inserted.message.for_viewer(sender),
            duplicate: inserted.duplicate,
            ok: true,
        }),
        Err(err) => ack.send(&error_body("send-message", &err)),
    };
    if let Err(err) = sent {
        tracing::debug!(event = "send-message", error = %err, "ack not delivered");
    }
}

pub fn error_body(event: &'static str, err: &Error) -> Value {
    if let Error::Internal(inner) = err {
        tracing::error!(event, error = ?inner, "internal error in socket handler");
    }
    metrics::counter!("orderchat_errors_total", "code" => err.code(), "transport" => "socket").increment(1);
    let mut body = json!({ "ok": false, "error": err.to_string(), "code": err.code() });
    if let Error::RateLimited { retry_after } = err {
        body["retryAfter"] = retry_after_secs(*retry_after).into();
    }
    body
}

/// Reads an order reference: a bare string (or number) id, or an object with `orderId`.
/// Returns the id and the object's other fields.
pub fn order_ref(data: Value) -> Result<(OrderId, Map<String, Value>)> {
    let missing = || Error::invalid_field("orderId", "expected an orderId or { orderId }");
    match data {
        Value::String(id) => Ok((OrderId::parse(&id)?, Map::new())),
        Value::Number(id) => Ok((OrderId::parse(&id.to_string())?, Map::new())),
        Value::Object(mut fields) => {
            let id = match fields.remove("orderId") {
                Some(Value::String(id)) => OrderId::parse(&id)?,
                Some(Value::Number(id)) => OrderId::parse(&id.to_string())?,
                _ => return Err(missing()),
            };
            Ok((id, fields))
        }
        _ => Err(missing()),
    }
}

/// An optional non-negative integer field such as `seq` or `sinceSeq`.
pub fn optional_seq(fields: &Map<String, Value>, name: &'static str) -> Result<Option<i64>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n)),
            _ => Err(Error::invalid_field(name, "must be a non-negative integer")),
        },
    }
}
