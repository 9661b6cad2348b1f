//! One SQLite store, shared by the properties that check a parsed value is also
//! accepted by the database (search expressions, history windows at the edges): a
//! value the parser lets through must never turn into a database error, i.e. a 500.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use orderchat::domain::{MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, UserId};
use orderchat::store::{OrderRecord, SqliteStore, Store};
use tempfile::TempDir;
use tokio::runtime::Runtime;

struct Shared {
    runtime: Runtime,
    store: Arc<dyn Store>,
    order: OrderId,
    _dir: TempDir,
}

/// Texts with words the search properties' strings are likely to hit.
const TEXTS: &[&str] = &[
    "late delivery, driver is near the gate",
    "order o1 OR order 2 — NEAR the café",
    "Straße 中文 한국어 ½ ² Ⅻ naïve",
    "quote \" star * caret ^ colon: body:",
];

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("props.db").display());
    let order = OrderId::parse("o1").expect("order id");
    let store: Arc<dyn Store> = runtime.block_on(async {
        let store = Arc::new(SqliteStore::connect(&url).await.expect("store opens"));
        let user = UserId::parse("ana").expect("user id");
        store
            .upsert_order(OrderRecord {
                id: order.clone(),
                number: None,
                status: None,
                participants: vec![Participant {
                    user_id: user.clone(),
                    role: "customer".into(),
                    name: None,
                }],
            })
            .await
            .expect("order stored");
        for text in TEXTS {
            let message = NewMessage {
                order_id: order.clone(),
                author: Some(MessageUser {
                    id: user.clone(),
                    name: None,
                    role: "customer".into(),
                }),
                text: MessageText::parse(text, 4000).expect("text"),
                message_type: MessageType::Text,
                sender_type: orderchat::domain::SenderType::User,
                reply_to: None,
                client_id: None,
            };
            store.insert_message(message).await.expect("message stored");
        }
        store
    });
    Shared {
        runtime,
        store,
        order,
        _dir: dir,
    }
});

/// Runs `f` with the shared store and the id of its one order.
pub fn with_store<T, Fut>(f: impl FnOnce(Arc<dyn Store>, OrderId) -> Fut) -> T
where
    Fut: Future<Output = T>,
{
    let shared = &*SHARED;
    shared.runtime.block_on(f(shared.store.clone(), shared.order.clone()))
}
