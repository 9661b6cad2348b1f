//! The group-commit writer: seqs, batches, clientId dedup, the queue bound, several
//! nodes writing one database.

use super::*;

pub(crate) async fn concurrent_inserts_get_gapless_seqs_per_order(db: &TestDb) {
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

pub(crate) async fn one_bad_message_in_a_batch_does_not_sink_the_others(db: &TestDb) {
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

pub(crate) async fn the_same_client_id_stored_concurrently_is_stored_once(db: &TestDb) {
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

pub(crate) async fn an_acknowledged_message_is_there_after_reopening(db: &TestDb) {
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

/// A writer that falls behind refuses new messages with `unavailable` instead of
/// queueing without bound; what it accepted is stored, and it takes messages again
/// once it has caught up.
pub(crate) async fn a_full_write_queue_refuses_new_messages_cleanly(db: &TestDb) {
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
pub(crate) async fn twenty_nodes_writing_one_order_get_seqs_one_to_n(db: &TestDb) {
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
pub(crate) async fn the_same_client_id_from_two_nodes_is_stored_once(db: &TestDb) {
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
