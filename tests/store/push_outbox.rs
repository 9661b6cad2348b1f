//! The push webhook's outbox: a flush's pushes coalesce into the user's unsent entry
//! for the order, an attempted entry is frozen and the next one waits for it, a claim
//! is a lease that no one else gets until it ends, failed attempts come back at their
//! time and become dead letters past the maximum age. Times are passed in, so nothing
//! here waits.

use orderchat::store::{ClaimedPush, PushBatch, PushContent, PushFailure, PushFate, PushOutboxCounts};

use super::*;

const T0: i64 = 1_800_000_000_000;
const LEASE: i64 = 40_000;

fn content(seq: i64, count: i64) -> PushContent {
    PushContent {
        kind: "new-message".into(),
        title: format!("New message (seq {seq})"),
        message: format!("text {seq}"),
        message_id: format!("m{seq}"),
        seq,
        count,
        created_at: format!("2027-01-01T00:00:{:02}.000Z", seq % 60),
    }
}

/// Queues `content` for `users` in `order_id` at `now`, first due one second later.
async fn queue(store: &Arc<dyn Store>, order_id: &str, users: &[&str], content: &PushContent, now: i64) {
    let users: Vec<UserId> = users.iter().map(|u| user(u)).collect();
    store
        .queue_pushes(PushBatch {
            order: &order(order_id),
            users: &users,
            content,
            now_ms: now,
            first_attempt_ms: now + 1_000,
        })
        .await
        .unwrap();
}

async fn claim(store: &Arc<dyn Store>, now: i64) -> Vec<ClaimedPush> {
    let mut claimed = store.claim_pushes(now, now + LEASE, 100).await.unwrap();
    claimed.sort_by(|a, b| (&a.order_id, &a.user_id).cmp(&(&b.order_id, &b.user_id)));
    claimed
}

fn failure(key: &str, retry_at_ms: i64, dead_if_queued_by_ms: i64) -> PushFailure<'_> {
    PushFailure {
        idempotency_key: key,
        error: "HTTP 500 Internal Server Error",
        retry_at_ms,
        dead_if_queued_by_ms,
    }
}

pub(crate) async fn a_burst_coalesces_into_one_unsent_entry_per_user_and_order(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "dan", "eve"]).await;
    add_order(&*store, "o2", &["ana", "dan"]).await;
    store.set_muted(&order("o1"), &user("eve"), true).await.unwrap();

    queue(&store, "o1", &["dan", "eve"], &content(1, 1), T0).await;
    queue(&store, "o1", &["dan", "eve"], &content(4, 3), T0 + 100).await;
    // From a node whose flush came late: counted, but not the latest message.
    queue(&store, "o1", &["dan", "eve"], &content(2, 1), T0 + 200).await;
    queue(&store, "o2", &["dan"], &content(7, 2), T0 + 300).await;

    assert!(
        claim(&store, T0 + 999).await.is_empty(),
        "nothing is due before the first delay"
    );
    let claimed = claim(&store, T0 + 1_300).await;
    assert_eq!(
        claimed.len(),
        2,
        "one entry per user and order, none for the user who muted: {claimed:?}"
    );
    let first = &claimed[0];
    assert_eq!((first.order_id.as_str(), first.user_id.as_str()), ("o1", "dan"));
    assert_eq!(first.count, 5, "every message of the burst counted");
    assert_eq!((first.seq, first.message_id.as_str()), (4, "m4"), "the latest message");
    assert_eq!(
        (first.message.as_str(), first.title.as_str()),
        ("text 4", "New message (seq 4)")
    );
    assert_eq!(first.created_at, content(4, 3).created_at);
    assert_eq!(first.attempts, 1);
    assert_eq!((claimed[1].order_id.as_str(), claimed[1].count), ("o2", 2));
    assert_ne!(first.idempotency_key, claimed[1].idempotency_key);
    assert_eq!(
        store.push_outbox_counts().await.unwrap(),
        PushOutboxCounts { pending: 2, dead: 0 }
    );
}

pub(crate) async fn an_attempted_entry_is_frozen_and_the_next_waits_for_it(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "dan"]).await;
    queue(&store, "o1", &["dan"], &content(1, 2), T0).await;
    let [head] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 1_000).await).unwrap();

    // Newer messages while the first push is under way: a new entry, not this one.
    queue(&store, "o1", &["dan"], &content(3, 1), T0 + 1_100).await;
    queue(&store, "o1", &["dan"], &content(4, 1), T0 + 1_200).await;
    assert!(
        claim(&store, T0 + 5_000).await.is_empty(),
        "the next entry waits while the first is in flight"
    );
    assert_eq!(
        store
            .push_failed(failure(&head.idempotency_key, T0 + 6_000, 0))
            .await
            .unwrap(),
        PushFate::Retrying
    );
    assert!(
        claim(&store, T0 + 5_500).await.is_empty(),
        "it waits while the first is retried, too"
    );

    let [again] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 6_000).await).unwrap();
    assert_eq!(
        again.idempotency_key, head.idempotency_key,
        "the first comes back first"
    );
    assert_eq!(
        (again.count, again.seq, again.attempts),
        (2, 1, 2),
        "with the content it was first sent with"
    );
    store.push_delivered(&again.idempotency_key).await.unwrap();

    let [next] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 6_001).await).unwrap();
    assert_ne!(next.idempotency_key, head.idempotency_key);
    assert_eq!((next.count, next.seq, next.attempts), (2, 4, 1));
    store.push_delivered(&next.idempotency_key).await.unwrap();
    assert_eq!(store.push_outbox_counts().await.unwrap(), PushOutboxCounts::default());
    assert_eq!(store.next_push_due().await.unwrap(), None);
}

pub(crate) async fn a_claim_is_a_lease_that_no_other_node_gets(db: &TestDb) {
    let (one, two) = (db.node().await, db.node().await);
    let users: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    add_order(&*one, "o1", &names).await;
    queue(&one, "o1", &names, &content(1, 1), T0).await;

    let now = T0 + 2_000;
    let (a, b) = tokio::join!(
        one.claim_pushes(now, now + LEASE, 25),
        two.claim_pushes(now, now + LEASE, 25)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut keys: Vec<&str> = a.iter().chain(&b).map(|p| p.idempotency_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), a.len() + b.len(), "no entry was handed to both nodes");
    let rest = claim(&two, now).await;
    assert_eq!(a.len() + b.len() + rest.len(), 40, "every entry claimed once");
    assert!(
        claim(&one, now + LEASE - 1).await.is_empty(),
        "held until the lease ends"
    );

    // The senders died: once their leases end, every entry is due again.
    let recovered = claim(&two, now + LEASE).await;
    assert_eq!(recovered.len(), 40);
    assert!(recovered.iter().all(|p| p.attempts == 2));
    assert_eq!(one.next_push_due().await.unwrap(), Some(now + 2 * LEASE));
}

pub(crate) async fn failed_pushes_retry_at_their_time_and_die_past_the_maximum_age(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "dan"]).await;
    queue(&store, "o1", &["dan"], &content(1, 1), T0).await;
    assert_eq!(store.next_push_due().await.unwrap(), Some(T0 + 1_000));
    let [head] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 1_000).await).unwrap();
    queue(&store, "o1", &["dan"], &content(2, 1), T0 + 1_500).await;

    // Queued at T0: not too old while the limit is before T0.
    let fate = store
        .push_failed(failure(&head.idempotency_key, T0 + 3_000, T0 - 1))
        .await
        .unwrap();
    assert_eq!(fate, PushFate::Retrying);
    assert_eq!(
        store.next_push_due().await.unwrap(),
        Some(T0 + 3_000),
        "the retry, not the entry behind it"
    );
    assert!(claim(&store, T0 + 2_999).await.is_empty());
    let [again] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 3_000).await).unwrap();
    assert_eq!(again.idempotency_key, head.idempotency_key);

    // Past the maximum age: a dead letter, kept but never sent again.
    let fate = store
        .push_failed(failure(&again.idempotency_key, T0 + 9_000, T0))
        .await
        .unwrap();
    assert_eq!(fate, PushFate::DeadLettered);
    assert_eq!(
        store.push_outbox_counts().await.unwrap(),
        PushOutboxCounts { pending: 1, dead: 1 }
    );
    let [next] = <[ClaimedPush; 1]>::try_from(claim(&store, T0 + 3_001).await).unwrap();
    assert_ne!(
        next.idempotency_key, head.idempotency_key,
        "the entry behind the dead letter goes"
    );
    assert_eq!(next.seq, 2);
    assert!(
        claim(&store, T0 + 100_000_000)
            .await
            .iter()
            .all(|p| p.idempotency_key != head.idempotency_key)
    );
    assert_eq!(
        store.push_failed(failure(&head.idempotency_key, T0, T0)).await.unwrap(),
        PushFate::Gone,
        "a dead letter takes no more attempts"
    );
    assert_eq!(
        store.push_failed(failure("no-such-key", T0, T0)).await.unwrap(),
        PushFate::Gone
    );

    // Dead letters are deleted once queued before the cut; pending entries never are.
    assert_eq!(
        store.delete_dead_pushes(T0, 100).await.unwrap(),
        0,
        "queued at T0, not before"
    );
    assert_eq!(store.delete_dead_pushes(T0 + 100_000_000, 100).await.unwrap(), 1);
    assert_eq!(
        store.push_outbox_counts().await.unwrap(),
        PushOutboxCounts { pending: 1, dead: 0 },
        "the pending entry stays however old"
    );
}
