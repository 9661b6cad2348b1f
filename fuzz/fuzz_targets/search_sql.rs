//! Arbitrary search text through `SearchQuery::parse` and then into SQLite's FTS5 in
//! a real store: whatever the user types, a query the parser accepts must also be
//! accepted by the database (a refusal there would be a 500). The store lives in a
//! temporary directory for the whole run, with a few messages to match.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use orderchat::chat::SearchQuery;
use orderchat::domain::{MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId};
use orderchat::store::{OrderRecord, Scope, SqliteStore, Store};
use tempfile::TempDir;
use tokio::runtime::Runtime;

struct Shared {
    runtime: Runtime,
    store: Arc<dyn Store>,
    order: OrderId,
    _dir: TempDir,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let order = OrderId::parse("o1").expect("order id");
    let user = UserId::parse("ana").expect("user id");
    let store: Arc<dyn Store> = runtime.block_on(async {
        let store = Arc::new(SqliteStore::connect(&url).await.expect("store opens"));
        let participants = vec![Participant {
            user_id: user.clone(),
            role: "customer".into(),
            name: None,
        }];
        let record = OrderRecord {
            id: order.clone(),
            number: None,
            status: None,
            participants,
        };
        store.upsert_order(record).await.expect("order stored");
        for text in [
            "late delivery near the gate",
            "Straße 中文 ½ naïve",
            "quote \" star * body:",
        ] {
            let message = NewMessage {
                order_id: order.clone(),
                author: Some(MessageUser {
                    id: user.clone(),
                    name: None,
                    role: "customer".into(),
                }),
                text: MessageText::parse(text, 4000).expect("text"),
                message_type: MessageType::Text,
                sender_type: SenderType::User,
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

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(query) = SearchQuery::parse(Some(&text), None, None) else {
        return;
    };
    let shared = &*SHARED;
    let member = Scope::ParticipantOf(UserId::parse("ana").expect("user id"));
    let result = shared.runtime.block_on(async {
        shared.store.search(&Scope::All, None, query.terms(), 1, 20).await?;
        shared
            .store
            .search(&member, Some(&shared.order), query.terms(), 1, 20)
            .await
    });
    if let Err(err) = result {
        panic!("the store refused {:?} from {text:?}: {err:?}", query.terms());
    }
});
