//! The storage contract, tested through the `Store` trait only, so every backend is held
//! to the same behaviour: each test below runs against SQLite and, when
//! `ORDERCHAT_TEST_DATABASE_URL` names a PostgreSQL server where the test may create
//! databases (`scripts/postgres start` prints one; `scripts/test` sets it), against
//! PostgreSQL too, each time on a database of its own. Focus: what the group-commit
//! writer must guarantee under concurrency, also with several processes ("nodes")
//! writing one database. Tests of one backend's settings stay with that backend.

use std::sync::Arc;

use orderchat::domain::{
    ClientId, MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId,
};
use orderchat::error::Error;
use orderchat::store::{
    DEFAULT_WRITE_QUEUE, HistoryWindow, OrderRecord, PostgresStore, Scope, SearchTerms, SqliteStore, Store,
};
use sqlx::Connection;
use tempfile::TempDir;

/// Runs each named test (an `async fn(&TestDb)`) once per backend: `sqlite::<name>` and
/// `postgres::<name>`. Without `ORDERCHAT_TEST_DATABASE_URL` the PostgreSQL runs say
/// they were skipped and pass.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::sqlite();
                    super::$name(&db).await;
                    db.remove().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres().await else {
                        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
                        return;
                    };
                    super::$name(&db).await;
                    db.remove().await;
                }
            )*
        }
    };
}

on_every_backend!(
    concurrent_inserts_get_gapless_seqs_per_order,
    one_bad_message_in_a_batch_does_not_sink_the_others,
    the_same_client_id_stored_concurrently_is_stored_once,
    an_acknowledged_message_is_there_after_reopening,
    unread_counts_skip_own_and_deleted_messages,
    unread_counters_agree_with_a_recount_after_any_mix_of_writes,
    search_respects_scope_and_order,
    search_keeps_orders_whose_ids_share_tokens_apart,
    a_full_write_queue_refuses_new_messages_cleanly,
    twenty_nodes_writing_one_order_get_seqs_one_to_n,
    the_same_client_id_from_two_nodes_is_stored_once,
    orders_are_created_updated_and_found_by_participant,
    history_windows_are_seq_ranges_with_their_counts,
    edits_and_deletions_change_the_stored_message,
    the_chat_list_shows_recent_activity_first_with_unread_counts,
    search_matches_every_word_and_the_last_as_a_prefix,
    search_takes_any_words_without_failing,
);

/// One fresh database for one test, of either backend. `node()` opens another store on
/// it, as another server process would.
enum TestDb {
    Sqlite { url: String, _dir: TempDir },
    Postgres { url: String, admin: String, name: String },
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb::Sqlite { url, _dir: dir }
    }

    /// A new database on the server of `ORDERCHAT_TEST_DATABASE_URL`, if set.
    async fn postgres() -> Option<Self> {
        let admin = std::env::var("ORDERCHAT_TEST_DATABASE_URL").ok()?;
        let name = format!("orderchat_test_{}", uuid::Uuid::now_v7().simple());
        let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
        // The name is ours: a fixed prefix and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        let url = with_database(&admin, &name);
        Some(TestDb::Postgres { url, admin, name })
    }

    /// A store on this database, as one node opens it.
    async fn node(&self) -> Arc<dyn Store> {
        self.node_with_queue(DEFAULT_WRITE_QUEUE).await
    }

    async fn node_with_queue(&self, write_queue: usize) -> Arc<dyn Store> {
        match self {
            TestDb::Sqlite { url, .. } => Arc::new(SqliteStore::open(url, None, write_queue).await.unwrap()),
            TestDb::Postgres { url, .. } => Arc::new(PostgresStore::open(url, None, write_queue).await.unwrap()),
        }
    }

    /// Drops a PostgreSQL test database (SQLite's goes with its directory).
    async fn remove(self) {
        if let TestDb::Postgres { admin, name, .. } = self {
            let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut connection)
            .await
            .unwrap();
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn order(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
}

fn words(words: &[&str]) -> SearchTerms {
    SearchTerms::new(words.iter().copied()).unwrap()
}

async fn add_order(store: &dyn Store, id: &str, users: &[&str]) {
    let participants = users
        .iter()
        .map(|u| Participant {
            user_id: user(u),
            role: "driver".into(),
            name: None,
        })
        .collect();
    store
        .upsert_order(OrderRecord {
            id: order(id),
            number: None,
            status: None,
            participants,
        })
        .await
        .unwrap();
}

fn text_from(author: &str, order_id: &str, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        order_id: order(order_id),
        author: Some(MessageUser {
            id: user(author),
            name: None,
            role: "driver".into(),
        }),
        text: MessageText::parse(text, 4000).unwrap(),
        message_type: MessageType::Text,
        sender_type: SenderType::User,
        reply_to: None,
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
    }
}

async fn concurrent_inserts_get_gapless_seqs_per_order(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["u"]).await;
    add_order(&*store, "b", &["u"]).await;
    let tasks: Vec<_> = (0..400)
        .map(|n| {
            let store = store.clone();
            let order_id = if n % 2 == 0 { "a" } else { "b" };
            tokio::spawn(async move {
                store
                    .insert_message(text_from("u", order_id, &format!("m{n}"), None))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for order_id in ["a", "b"] {
        let page = store
            .history(&order(order_id), HistoryWindow::After { seq: 0, limit: 1000 })
            .await
            .unwrap();
        let seqs: Vec<i64> = page.items.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "order {order_id}");
    }
}

async fn one_bad_message_in_a_batch_does_not_sink_the_others(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["u"]).await;
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let store = store.clone();
            let order_id = if n == 25 { "missing" } else { "a" };
            tokio::spawn(async move { store.insert_message(text_from("u", order_id, "x", None)).await })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(Error::OrderNotFound) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(refused, 1);
    let page = store
        .history(&order("a"), HistoryWindow::After { seq: 0, limit: 100 })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 49);
    assert_eq!(page.items.last().unwrap().seq, 49);
}

async fn the_same_client_id_stored_concurrently_is_stored_once(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["u"]).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_message(text_from("u", "a", "retry", Some("c1")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut fresh = 0;
    for task in tasks {
        let inserted = task.await.unwrap();
        ids.push(inserted.message.id);
        fresh += usize::from(!inserted.duplicate);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every sender got the same message");
    assert_eq!(fresh, 1);
}

/// SQLite only: its journal and sync settings.
#[tokio::test]
async fn every_connection_runs_in_wal_mode_with_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    // Hold several connections at once, so the pool must open more than one.
    let settings = futures::future::join_all((0..4).map(|_| store.durability())).await;
    let writer = store.writer_durability().await;
    for setting in settings.into_iter().chain([writer]) {
        let (journal, synchronous) = setting.unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "synchronous=FULL (NORMAL is 1, OFF is 0)");
    }
}

async fn an_acknowledged_message_is_there_after_reopening(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["u"]).await;
    let stored = store.insert_message(text_from("u", "a", "kept", None)).await.unwrap();
    // No close(): as after a crash, only what was committed counts.
    drop(store);
    let reopened = db.node().await;
    let found = reopened
        .message(&stored.message.id)
        .await
        .unwrap()
        .expect("message survives");
    assert_eq!(found.message, "kept");
}

async fn unread_counts_skip_own_and_deleted_messages(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["ana", "bo"]).await;
    let first = store.insert_message(text_from("ana", "a", "one", None)).await.unwrap();
    store.insert_message(text_from("ana", "a", "two", None)).await.unwrap();
    store.insert_message(text_from("bo", "a", "three", None)).await.unwrap();
    assert_eq!(store.unread_count(&order("a"), &user("bo")).await.unwrap(), 2);
    store.delete_message(&first.message.id).await.unwrap();
    assert_eq!(store.unread_count(&order("a"), &user("bo")).await.unwrap(), 1);
    assert_eq!(
        store.mark_read_up_to(&order("a"), &user("bo"), 99).await.unwrap(),
        (3, 0)
    );
    assert_eq!(
        store.mark_read_up_to(&order("a"), &user("bo"), 1).await.unwrap(),
        (3, 0)
    );
    assert_eq!(store.unread_count(&order("a"), &user("bo")).await.unwrap(), 0);
    assert!(matches!(
        store.mark_read_up_to(&order("nope"), &user("bo"), 1).await,
        Err(Error::OrderNotFound)
    ));
}

/// The counters kept on every write agree with a count from scratch, after a long mix
/// of sends by everyone, deletions, pointer moves forward and back, and a participant
/// who joins late.
async fn unread_counters_agree_with_a_recount_after_any_mix_of_writes(db: &TestDb) {
    let store = db.node().await;
    let o = order("mix");
    add_order(&*store, "mix", &["ana", "bo", "cy"]).await;
    let mut users = vec!["ana", "bo", "cy"];
    let mut ids: Vec<String> = Vec::new();
    let mut state: u64 = 42;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % bound
    };
    for step in 0..400 {
        if step == 200 {
            users.push("dee");
            add_order(&*store, "mix", &["ana", "bo", "cy", "dee"]).await;
        }
        match next(10) {
            0..=5 => {
                let author = users[next(users.len())];
                let inserted = store
                    .insert_message(text_from(author, "mix", &format!("m{step}"), None))
                    .await
                    .unwrap();
                ids.push(inserted.message.id);
            }
            6 if !ids.is_empty() => {
                store.delete_message(&ids[next(ids.len())]).await.unwrap();
            }
            7 | 8 => {
                let reader = users[next(users.len())];
                store
                    .mark_read_up_to(&o, &user(reader), next(ids.len() + 2) as i64)
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    let history = store
        .history(&o, orderchat::store::HistoryWindow::After { seq: 0, limit: 10_000 })
        .await
        .unwrap()
        .items;
    let pointers = store.read_pointers(&o).await.unwrap();
    let counters = store.unread_counts(&o).await.unwrap();
    assert_eq!(counters.len(), 4, "every participant has a counter, the late one too");
    assert!(history.iter().any(|m| m.deleted), "the mix deleted messages");
    assert!(
        pointers.iter().filter(|p| p.seq > 0).count() >= 3,
        "the mix moved read pointers"
    );
    for name in &users {
        let pointer = pointers.iter().find(|p| p.user_id == user(name)).map_or(0, |p| p.seq);
        let recount = history
            .iter()
            .filter(|m| m.seq > pointer && !m.deleted && m.author() != Some(&user(name)))
            .count() as i64;
        assert_eq!(store.unread_count(&o, &user(name)).await.unwrap(), recount, "{name}");
        let counter = counters.iter().find(|(u, _)| *u == user(name)).map(|(_, n)| *n);
        assert_eq!(counter, Some(recount), "{name} in unread_counts");
    }
}

async fn search_respects_scope_and_order(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["ana"]).await;
    add_order(&*store, "b", &["bo"]).await;
    store
        .insert_message(text_from("ana", "a", "gate code", None))
        .await
        .unwrap();
    store
        .insert_message(text_from("bo", "b", "gate open", None))
        .await
        .unwrap();
    let mine = store
        .search(&Scope::ParticipantOf(user("ana")), None, &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    assert_eq!(mine.items[0].message, "gate code");
    let all = store.search(&Scope::All, None, &words(&["gate"]), 1, 10).await.unwrap();
    assert_eq!(all.total, 2);
    let in_b = store
        .search(&Scope::All, Some(&order("b")), &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(in_b.items[0].message, "gate open");
}

/// Order ids are indexed to narrow searches, tokenized like words: ids that share
/// tokens (`ord-1`, `ord 1`, `ord"1`) must still never see each other's messages, and
/// the words of an id are not words of its messages.
async fn search_keeps_orders_whose_ids_share_tokens_apart(db: &TestDb) {
    let store = db.node().await;
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        add_order(&*store, id, &[who]).await;
        store
            .insert_message(text_from(who, id, &format!("gate code of {who}"), None))
            .await
            .unwrap();
    }
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        let inside = store
            .search(&Scope::All, Some(&order(id)), &words(&["gate"]), 1, 10)
            .await
            .unwrap();
        let texts: Vec<_> = inside.items.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(texts, [format!("gate code of {who}")], "inside {id}");
        assert_eq!(inside.total, 1);
        let theirs = store
            .search(&Scope::ParticipantOf(user(who)), None, &words(&["gate"]), 1, 10)
            .await
            .unwrap();
        assert_eq!(theirs.total, 1, "{who} sees only their order");
        assert_eq!(theirs.items[0].order_id, order(id));
    }
    let by_id_words = store.search(&Scope::All, None, &words(&["ord"]), 1, 10).await.unwrap();
    assert_eq!(by_id_words.total, 0, "an order id's words are not message words");
    let nobody = store
        .search(&Scope::ParticipantOf(user("no-orders")), None, &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(nobody.total, 0);
}

/// A writer that falls behind refuses new messages with `unavailable` instead of
/// queueing without bound; what it accepted is stored, and it takes messages again
/// once it has caught up.
async fn a_full_write_queue_refuses_new_messages_cleanly(db: &TestDb) {
    let store = db.node_with_queue(2).await;
    add_order(&*store, "q", &["u"]).await;
    // Queued synchronously, one after another, faster than any commit.
    let pending: Vec<_> = (0..50)
        .map(|n| store.insert_message(text_from("u", "q", &format!("m{n}"), None)))
        .collect();
    let results = futures::future::join_all(pending).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Unavailable(_))))
        .count();
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert!(refused > 0, "nothing was refused with a queue of 2");
    assert_eq!(refused + stored, 50, "every send was either stored or refused cleanly");
    let history = store
        .history(
            &order("q"),
            orderchat::store::HistoryWindow::After { seq: 0, limit: 100 },
        )
        .await
        .unwrap();
    assert_eq!(history.items.len(), stored);
    store
        .insert_message(text_from("u", "q", "later", None))
        .await
        .expect("accepted again");
}

/// Twenty nodes (stores of their own, each with its own writer and connections) send
/// into one order at once: the order's seqs are exactly 1..=N, each message once.
async fn twenty_nodes_writing_one_order_get_seqs_one_to_n(db: &TestDb) {
    const NODES: usize = 20;
    const EACH: usize = 10;
    let first = db.node().await;
    add_order(&*first, "busy", &["u"]).await;
    let mut nodes = vec![first];
    for _ in 1..NODES {
        nodes.push(db.node().await);
    }
    let sends: Vec<_> = nodes
        .iter()
        .enumerate()
        .flat_map(|(node, store)| {
            (0..EACH).map(move |n| store.insert_message(text_from("u", "busy", &format!("{node}/{n}"), None)))
        })
        .collect();
    let mut acked: Vec<i64> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|sent| sent.unwrap().message.seq)
        .collect();
    acked.sort_unstable();
    let all: Vec<i64> = (1..=(NODES * EACH) as i64).collect();
    assert_eq!(acked, all, "every ack carries its own seq");
    let stored = nodes[0]
        .history(&order("busy"), HistoryWindow::After { seq: 0, limit: 1000 })
        .await
        .unwrap();
    let seqs: Vec<i64> = stored.items.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, all);
    let mut texts: Vec<&str> = stored.items.iter().map(|m| m.message.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), NODES * EACH, "each message stored once");
    assert_eq!(
        nodes[0].order(&order("busy")).await.unwrap().unwrap().last_seq,
        all.len() as i64
    );
}

/// A client retries through another node while its first send is still in flight: the
/// same clientId arrives at two nodes at once. One row; both get the same message, one
/// of them as a duplicate; never an error.
async fn the_same_client_id_from_two_nodes_is_stored_once(db: &TestDb) {
    let (one, two) = (db.node().await, db.node().await);
    add_order(&*one, "a", &["u"]).await;
    for round in 0..25 {
        let client_id = format!("c{round}");
        let (a, b) = futures::join!(
            one.insert_message(text_from("u", "a", "retry", Some(&client_id))),
            two.insert_message(text_from("u", "a", "retry", Some(&client_id))),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.message.id, b.message.id, "round {round}: both got the same message");
        assert_eq!(
            u8::from(a.duplicate) + u8::from(b.duplicate),
            1,
            "round {round}: exactly one is the duplicate"
        );
    }
    let stored = one
        .history(&order("a"), HistoryWindow::After { seq: 0, limit: 100 })
        .await
        .unwrap();
    assert_eq!(stored.total, 25);
    let seqs: Vec<i64> = stored.items.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
}

fn participant(id: &str, role: &str, name: Option<&str>) -> Participant {
    Participant {
        user_id: user(id),
        role: role.into(),
        name: name.map(str::to_owned),
    }
}

async fn orders_are_created_updated_and_found_by_participant(db: &TestDb) {
    let store = db.node().await;
    let record = OrderRecord {
        id: order("o-1"),
        number: Some("A-17".into()),
        status: Some("created".into()),
        participants: vec![
            participant("zed", "customer", Some("Zed")),
            participant("amy", "driver", None),
        ],
    };
    let (created, is_new) = store.upsert_order(record.clone()).await.unwrap();
    assert!(is_new);
    assert_eq!(created.number.as_deref(), Some("A-17"));
    assert_eq!(created.last_seq, 0);
    let names: Vec<&str> = created.participants.iter().map(|p| p.user_id.as_str()).collect();
    assert_eq!(names, ["zed", "amy"], "participants keep the order they were given in");
    assert_eq!(created.participants[0].name.as_deref(), Some("Zed"));

    let (again, is_new) = store
        .upsert_order(OrderRecord {
            status: Some("picked_up".into()),
            participants: vec![participant("amy", "driver", Some("Amy"))],
            ..record
        })
        .await
        .unwrap();
    assert!(!is_new, "the second upsert replaces");
    assert_eq!(again.status.as_deref(), Some("picked_up"));
    assert_eq!(again.participants, [participant("amy", "driver", Some("Amy"))]);
    assert!(
        store.orders_of(&user("zed")).await.unwrap().is_empty(),
        "zed was removed"
    );

    let changed = store
        .update_order(
            &order("o-1"),
            orderchat::store::OrderChanges {
                status: Some("delivered".into()),
                participants: Some(vec![
                    participant("amy", "driver", None),
                    participant("bo", "support", None),
                ]),
            },
        )
        .await
        .unwrap()
        .expect("the order exists");
    assert_eq!(changed.status.as_deref(), Some("delivered"));
    assert_eq!(changed.participants.len(), 2);
    let untouched = store
        .update_order(&order("o-1"), orderchat::store::OrderChanges::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status.as_deref(), Some("delivered"), "None leaves the status");
    assert_eq!(untouched.participants.len(), 2, "None leaves the participants");
    assert_eq!(
        store.orders_of(&user("bo")).await.unwrap(),
        [(order("o-1"), Some("delivered".to_owned()))]
    );
    assert!(
        store
            .update_order(&order("nope"), orderchat::store::OrderChanges::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.order(&order("nope")).await.unwrap().is_none());
}

async fn history_windows_are_seq_ranges_with_their_counts(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "h", &["u"]).await;
    for n in 1..=10 {
        store
            .insert_message(text_from("u", "h", &format!("m{n}"), None))
            .await
            .unwrap();
    }
    let o = order("h");
    let window = |w| {
        let store = store.clone();
        let o = o.clone();
        async move {
            let page = store.history(&o, w).await.unwrap();
            (page.items.iter().map(|m| m.seq).collect::<Vec<_>>(), page.total)
        }
    };
    assert_eq!(
        window(HistoryWindow::Page { page: 1, limit: 3 }).await,
        (vec![8, 9, 10], 10)
    );
    assert_eq!(
        window(HistoryWindow::Page { page: 2, limit: 3 }).await,
        (vec![5, 6, 7], 10)
    );
    assert_eq!(window(HistoryWindow::Page { page: 4, limit: 3 }).await, (vec![1], 10));
    assert_eq!(window(HistoryWindow::Page { page: 5, limit: 3 }).await, (vec![], 10));
    assert_eq!(
        window(HistoryWindow::Before { seq: 4, limit: 2 }).await,
        (vec![2, 3], 3)
    );
    assert_eq!(window(HistoryWindow::After { seq: 7, limit: 2 }).await, (vec![8, 9], 3));
    assert_eq!(window(HistoryWindow::After { seq: 10, limit: 5 }).await, (vec![], 0));
    let missing = store
        .history(&order("nope"), HistoryWindow::Page { page: 1, limit: 10 })
        .await
        .unwrap();
    assert!(missing.items.is_empty());
    assert_eq!(missing.total, 0);
}

async fn edits_and_deletions_change_the_stored_message(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "e", &["u"]).await;
    let sent = store
        .insert_message(text_from("u", "e", "first words", Some("c-1")))
        .await
        .unwrap()
        .message;
    assert_eq!(sent.client_id.as_deref(), Some("c-1"));
    let edited = store
        .edit_message(&sent.id, &MessageText::parse("second words", 4000).unwrap())
        .await
        .unwrap();
    assert_eq!(edited.message, "second words");
    assert!(edited.edited_at.is_some());
    assert_eq!(edited.seq, sent.seq);
    assert_eq!(store.message(&sent.id).await.unwrap().unwrap().message, "second words");

    let deleted = store.delete_message(&sent.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.message, "", "a tombstone keeps no text");
    assert!(matches!(
        store
            .edit_message(&sent.id, &MessageText::parse("again", 4000).unwrap())
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.delete_message("no-such-id").await,
        Err(Error::MessageNotFound)
    ));
    assert!(store.message("no-such-id").await.unwrap().is_none());
    let found = store
        .search(&Scope::All, None, &words(&["second"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(found.total, 0, "a deleted message is not found");
}

async fn the_chat_list_shows_recent_activity_first_with_unread_counts(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "c-old", &["ana", "bo"]).await;
    add_order(&*store, "c-new", &["ana", "bo"]).await;
    add_order(&*store, "c-other", &["cy"]).await;
    store
        .insert_message(text_from("bo", "c-old", "older", None))
        .await
        .unwrap();
    // Activity times have millisecond precision.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .insert_message(text_from("bo", "c-new", "newer one", None))
        .await
        .unwrap();
    store
        .insert_message(text_from("bo", "c-new", "newer two", None))
        .await
        .unwrap();

    let ana = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 1, 10)
        .await
        .unwrap();
    assert_eq!(ana.total, 2);
    let rows: Vec<(&str, Option<&str>, i64)> = ana
        .items
        .iter()
        .map(|c| {
            (
                c.order.id.as_str(),
                c.last_message.as_ref().map(|m| m.message.as_str()),
                c.unread_count,
            )
        })
        .collect();
    assert_eq!(rows, [("c-new", Some("newer two"), 2), ("c-old", Some("older"), 1)]);
    assert_eq!(ana.items[0].order.participants.len(), 2);

    let first_page = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 1, 1)
        .await
        .unwrap();
    assert_eq!(first_page.items.len(), 1);
    assert_eq!(first_page.total, 2);
    let past_the_end = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 3, 1)
        .await
        .unwrap();
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total, 2);

    // Staff see every order; without a counter of their own they get a count.
    let staff = store.order_chats(&Scope::All, &user("boss"), 1, 10).await.unwrap();
    assert_eq!(staff.total, 3);
    let other = staff.items.iter().find(|c| c.order.id == order("c-other")).unwrap();
    assert!(other.last_message.is_none());
    assert!(other.order.participants.len() == 1);
    let newest = staff.items.iter().find(|c| c.order.id == order("c-new")).unwrap();
    assert_eq!(newest.unread_count, 2);
}

async fn search_matches_every_word_and_the_last_as_a_prefix(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "s", &["u"]).await;
    for text in [
        "the gateway is closed",
        "Gate code 1234, gate on the left, gate is blue",
        "leave it at the gate",
        "nothing to see",
    ] {
        store.insert_message(text_from("u", "s", text, None)).await.unwrap();
    }
    let texts = |page: orderchat::store::Page<orderchat::domain::Message>| {
        page.items.into_iter().map(|m| m.message).collect::<Vec<_>>()
    };
    let prefix = store.search(&Scope::All, None, &words(&["gat"]), 1, 10).await.unwrap();
    assert_eq!(prefix.total, 3, "the last word matches as a prefix");
    let whole = store
        .search(&Scope::All, None, &words(&["gate", "left"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(texts(whole), ["Gate code 1234, gate on the left, gate is blue"]);
    let not_a_prefix = store
        .search(&Scope::All, None, &words(&["gat", "the"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(not_a_prefix.total, 0, "only the last word is a prefix");
    let ranked = store.search(&Scope::All, None, &words(&["gate"]), 1, 10).await.unwrap();
    assert_eq!(ranked.total, 3);
    assert_eq!(
        ranked.items[0].message, "Gate code 1234, gate on the left, gate is blue",
        "the message with the word three times ranks first"
    );
    let paged = store.search(&Scope::All, None, &words(&["gate"]), 2, 2).await.unwrap();
    assert_eq!(paged.items.len(), 1);
    assert_eq!(paged.total, 3);
}

/// Words are text, whatever they hold: query-language operators, quotes, wildcards,
/// any script. No search fails, and an operator word does not widen the search.
async fn search_takes_any_words_without_failing(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "w", &["u"]).await;
    store
        .insert_message(text_from("u", "w", "call me or text, don't ring", None))
        .await
        .unwrap();
    let hostile: &[&[&str]] = &[
        &["\""],
        &["*"],
        &["or"],
        &["OR", "NEAR("],
        &["a:b", "-x", "!y", "'"],
        &["body:", "{body}", ":*"],
        &["don't"],
        &["日本語", "ё", "\u{0}", "a\u{0}b", "\u{7}"],
        &["(", ")", "&", "|", "<->"],
    ];
    for terms in hostile {
        let result = store
            .search(
                &Scope::ParticipantOf(user("u")),
                Some(&order("w")),
                &words(terms),
                1,
                10,
            )
            .await;
        assert!(result.is_ok(), "{terms:?}: {result:?}");
    }
    let or = store.search(&Scope::All, None, &words(&["or"]), 1, 10).await.unwrap();
    assert_eq!(or.total, 1, "`or` is a word here");
    let widened = store
        .search(&Scope::All, None, &words(&["nothing", "OR", "call"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(widened.total, 0, "`OR` does not make an alternative");
    let apostrophe = store
        .search(&Scope::All, None, &words(&["don't"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(apostrophe.total, 1);
}
