//! A real SQLite store for the properties that check a parsed value is also accepted
//! by the database (search expressions, history windows at the edges): a value the
//! parser lets through must never turn into a database error, i.e. a 500.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use orderchat::domain::{MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId};
use orderchat::store::{OrderRecord, SqliteStore, Store};
use proptest::strategy::Strategy;
use proptest::test_runner::{TestCaseResult, TestRunner};
use tempfile::TempDir;
use tokio::runtime::Runtime;

use crate::contract::config;

/// A store in a temporary directory with one order (`o1`, participant `ana`) and a
/// few messages; closed and removed when dropped.
pub struct Db {
    runtime: Runtime,
    pub store: Arc<dyn Store>,
    pub order: OrderId,
    _dir: TempDir,
}

/// Texts with words the search properties' strings are likely to hit.
const TEXTS: &[&str] = &[
    "late delivery, driver is near the gate",
    "order o1 OR order 2 — NEAR the café",
    "Straße 中文 한국어 ½ ² Ⅻ naïve",
    "quote \" star * caret ^ colon: body:",
];

impl Db {
    fn open() -> Self {
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
                    sender_type: SenderType::User,
                    reply_to: None,
                    client_id: None,
                    attachments: Vec::new(),
                };
                store.insert_message(message).await.expect("message stored");
            }
            store
        });
        Db {
            runtime,
            store,
            order,
            _dir: dir,
        }
    }

    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.runtime.block_on(self.store.close());
    }
}

/// Runs a property with a fresh `Db` that is removed afterwards (a `proptest!` block
/// keeps no state across cases, and a static store would never be dropped, leaving
/// its directory behind). `source_file` (the caller's `file!()`) names the
/// regressions file.
pub fn check_with_db<S>(
    source_file: &'static str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value, &Db) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: Debug,
{
    let db = Db::open();
    let mut runner = TestRunner::new(proptest::test_runner::Config {
        source_file: Some(source_file),
        ..config(cases)
    });
    let result = runner.run(&strategy, |value| test(value, &db));
    drop(db);
    if let Err(err) = result {
        panic!("{err}");
    }
}
