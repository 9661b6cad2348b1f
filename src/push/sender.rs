//! The sending loop: claim due pushes (a lease each), POST them side by side, report
//! each outcome to the outbox, and sleep until the next is due or one is queued.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Webhook, sign};
use crate::chat::ChatService;
use crate::shutdown::Shutdown;
use crate::store::{ClaimedPush, PushFate};

/// Pushes claimed (and sent side by side) at a time.
const BATCH: i64 = 32;

/// The JSON body of a push (docs/API.md, "Push webhook").
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    idempotency_key: &'a str,
    user_id: &'a str,
    order_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    message: &'a str,
    count: i64,
    message_id: &'a str,
    seq: i64,
    created_at: &'a str,
}

pub(super) async fn run(webhook: Arc<Webhook>, chat: ChatService, shutdown: Shutdown) {
    loop {
        // Shutdown waits for the pushes under way, so their outcome is recorded.
        let in_flight = shutdown.in_flight();
        if shutdown.is_draining() {
            return;
        }
        let claimed = match chat.claim_pushes(BATCH).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "could not claim pushes from the outbox");
                drop(in_flight);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if claimed.is_empty() {
            drop(in_flight);
            report_outbox(&chat).await;
            chat.wait_for_pushes().await;
            continue;
        }
        futures::future::join_all(claimed.iter().map(|push| deliver(&webhook, &chat, push))).await;
        drop(in_flight);
    }
}

/// One attempt of `push`, and its outcome recorded.
async fn deliver(webhook: &Webhook, chat: &ChatService, push: &ClaimedPush) {
    let error = match post(webhook, push).await {
        Ok(()) => {
            metrics::counter!("orderchat_push_webhook_delivered_total").increment(1);
            if let Err(err) = chat.push_delivered(push).await {
                // It stays in the outbox and is sent again once its lease ends: the
                // receiver drops the repeat by its idempotency key.
                tracing::warn!(error = %err, "push delivered, but could not remove it from the outbox");
            }
            return;
        }
        Err(error) => error,
    };
    metrics::counter!("orderchat_push_webhook_failed_attempts_total").increment(1);
    match chat.push_failed(push, &error).await {
        Ok(PushFate::DeadLettered) => {
            metrics::counter!("orderchat_push_webhook_dead_letters_total").increment(1);
            tracing::warn!(
                key = %push.idempotency_key,
                attempts = push.attempts,
                error = %error,
                "push webhook: giving up on a push (dead letter)"
            );
        }
        Ok(PushFate::Retrying | PushFate::Gone) => tracing::debug!(
            key = %push.idempotency_key,
            attempts = push.attempts,
            error = %error,
            "push webhook attempt failed; retrying later"
        ),
        Err(err) => tracing::warn!(error = %err, "could not record a failed push attempt; retried after its lease"),
    }
}

/// POSTs `push`; `Err` says why it did not count as delivered (anything but a 2xx).
async fn post(webhook: &Webhook, push: &ClaimedPush) -> Result<(), String> {
    let body = serde_json::to_vec(&Body {
        idempotency_key: &push.idempotency_key,
        user_id: &push.user_id,
        order_id: &push.order_id,
        kind: &push.kind,
        title: &push.title,
        message: &push.message,
        count: push.count,
        message_id: &push.message_id,
        seq: push.seq,
        created_at: &push.created_at,
    })
    .map_err(|err| format!("encoding the body: {err}"))?;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(&webhook.key, timestamp, &body);
    let response = webhook
        .client
        .post(webhook.url.clone())
        .header("content-type", "application/json")
        .header("x-orderchat-timestamp", timestamp.to_string())
        .header("x-orderchat-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|err| describe(err.without_url()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// A request error with its causes ("error sending request: … connection refused"),
/// without the URL: it may carry credentials.
fn describe(err: http_client::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The outbox's size in `/metrics` (the whole table's, every node's entries).
async fn report_outbox(chat: &ChatService) {
    match chat.push_outbox_counts().await {
        Ok(counts) => {
            metrics::gauge!("orderchat_push_webhook_outbox", "state" => "pending").set(counts.pending as f64);
            metrics::gauge!("orderchat_push_webhook_outbox", "state" => "dead").set(counts.dead as f64);
        }
        Err(err) => tracing::debug!(error = %err, "could not count the push outbox"),
    }
}
