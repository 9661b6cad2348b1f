//! The storage contract, tested through the `Store` trait only, so every backend can be
//! held to the same behaviour (today: SQLite; PostgreSQL runs the same cases when it
//! lands). Focus: what the group-commit writer must guarantee under concurrency.

use std::sync::Arc;

use orderchat::domain::{
    ClientId, MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId,
};
use orderchat::error::Error;
use orderchat::store::{HistoryWindow, OrderRecord, Scope, SqliteStore, Store};
use tempfile::TempDir;

async fn sqlite() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    (Arc::new(SqliteStore::connect(&url).await.unwrap()), dir)
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn order(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
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

#[tokio::test]
async fn concurrent_inserts_get_gapless_seqs_per_order() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn one_bad_message_in_a_batch_does_not_sink_the_others() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn the_same_client_id_stored_concurrently_is_stored_once() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn an_acknowledged_message_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    add_order(&store, "a", &["u"]).await;
    let stored = store.insert_message(text_from("u", "a", "kept", None)).await.unwrap();
    // No close(): as after a crash, only what was committed counts.
    drop(store);
    let reopened = SqliteStore::connect(&url).await.unwrap();
    let found = reopened
        .message(&stored.message.id)
        .await
        .unwrap()
        .expect("message survives");
    assert_eq!(found.message, "kept");
}

#[tokio::test]
async fn unread_counts_skip_own_and_deleted_messages() {
    let (store, _dir) = sqlite().await;
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
#[tokio::test]
async fn unread_counters_agree_with_a_recount_after_any_mix_of_writes() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn search_respects_scope_and_order() {
    let (store, _dir) = sqlite().await;
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
        .search(&Scope::ParticipantOf(user("ana")), None, "\"gate\"", 1, 10)
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    assert_eq!(mine.items[0].message, "gate code");
    let all = store.search(&Scope::All, None, "\"gate\"", 1, 10).await.unwrap();
    assert_eq!(all.total, 2);
    let in_b = store
        .search(&Scope::All, Some(&order("b")), "\"gate\"", 1, 10)
        .await
        .unwrap();
    assert_eq!(in_b.items[0].message, "gate open");
}

/// Order ids are indexed to narrow searches, tokenized like words: ids that share
/// tokens (`ord-1`, `ord 1`, `ord"1`) must still never see each other's messages, and
/// the words of an id are not words of its messages.
#[tokio::test]
async fn search_keeps_orders_whose_ids_share_tokens_apart() {
    let (store, _dir) = sqlite().await;
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        add_order(&*store, id, &[who]).await;
        store
            .insert_message(text_from(who, id, &format!("gate code of {who}"), None))
            .await
            .unwrap();
    }
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        let inside = store
            .search(&Scope::All, Some(&order(id)), "\"gate\"*", 1, 10)
            .await
            .unwrap();
        let texts: Vec<_> = inside.items.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(texts, [format!("gate code of {who}")], "inside {id}");
        assert_eq!(inside.total, 1);
        let theirs = store
            .search(&Scope::ParticipantOf(user(who)), None, "\"gate\"*", 1, 10)
            .await
            .unwrap();
        assert_eq!(theirs.total, 1, "{who} sees only their order");
        assert_eq!(theirs.items[0].order_id, order(id));
    }
    let by_id_words = store.search(&Scope::All, None, "\"ord\"*", 1, 10).await.unwrap();
    assert_eq!(by_id_words.total, 0, "an order id's words are not message words");
    let nobody = store
        .search(&Scope::ParticipantOf(user("no-orders")), None, "\"gate\"*", 1, 10)
        .await
        .unwrap();
    assert_eq!(nobody.total, 0);
}

/// A writer that falls behind refuses new messages with `unavailable` instead of
/// queueing without bound; what it accepted is stored, and it takes messages again
/// once it has caught up.
#[tokio::test]
async fn a_full_write_queue_refuses_new_messages_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::open(&url, None, 2).await.unwrap();
    add_order(&store, "q", &["u"]).await;
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
