//! Archiving: messages dated in the past (backdated through the store) and the chats of
//! orders closed long enough move out of the hot table in batches; plain history loses
//! them, history with the archive, search, stats and reply previews still see them;
//! unread counters and read pointers stay as they were.

use orderchat::domain::timestamp;
use orderchat::store::{ArchiveRule, OrderChanges};

use super::*;

const LONG_AGO: &str = "2020-01-01T00:00:00.000Z";

fn days_ago(days: i64) -> String {
    timestamp(chrono::Utc::now() - chrono::Duration::days(days))
}

/// The default policy: 90 days, and orders closed for 30.
fn rule() -> ArchiveRule {
    ArchiveRule {
        created_before: days_ago(90),
        closed_statuses: ["completed", "cancelled", "canceled", "closed"]
            .map(String::from)
            .to_vec(),
        closed_before: days_ago(30),
    }
}

/// Runs batches of `limit` until the store says the pass is over; returns what moved
/// per order (an order split over batches summed) and the number of batches.
async fn archive(store: &dyn Store, limit: i64, dry_run: bool) -> (Vec<(String, i64)>, usize) {
    let rule = rule();
    let mut cursor = None;
    let mut moved: Vec<(String, i64)> = Vec::new();
    let mut batches = 0;
    loop {
        let batch = store
            .archive_batch(&rule, cursor.as_ref(), limit, dry_run)
            .await
            .unwrap();
        batches += 1;
        assert!(batches < 1000, "the pass never ends");
        for (order, count) in batch.orders {
            match moved.last_mut() {
                Some((last, total)) if last == order.as_str() => *total += count,
                _ => moved.push((order.as_str().to_owned(), count)),
            }
        }
        if batch.done {
            return (moved, batches);
        }
        cursor = batch.cursor;
    }
}

async fn send(store: &dyn Store, author: &str, order_id: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let text = format!("parcel{i} note from {author}");
        ids.push(
            store
                .insert_message(text_from(author, order_id, &text, None))
                .await
                .unwrap()
                .message
                .id,
        );
    }
    ids
}

fn seqs(page: &orderchat::store::Page<orderchat::domain::Message>) -> Vec<i64> {
    page.items.iter().map(|m| m.seq).collect()
}

async fn set_status(store: &dyn Store, id: &str, status: &str) {
    store
        .update_order(
            &order(id),
            OrderChanges {
                status: Some(status.into()),
                participants: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
}

pub(crate) async fn old_messages_move_and_stay_readable_through_the_archive(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["ana", "bo"]).await;
    add_order(&*store, "b", &["ana"]).await;
    let ids = send(&*store, "ana", "a", 5).await;
    send(&*store, "ana", "b", 2).await;
    // A recent reply (seq 6) to a message that will be archived.
    let mut reply = text_from("bo", "a", "answer to that", None);
    let quoted = store.message(&ids[0]).await.unwrap().unwrap();
    reply.reply_to = Some(Box::new(orderchat::domain::ReplyPreview::of(&quoted)));
    store.insert_message(reply).await.unwrap();
    assert_eq!(store.backdate_messages(&order("a"), 3, LONG_AGO).await.unwrap(), 3);

    let (moved, _) = archive(&*store, 500, false).await;
    assert_eq!(moved, vec![("a".to_owned(), 3)], "only the old messages of a move");

    // Plain history: the hot messages only, with their own totals.
    let hot = store
        .history(&order("a"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!((seqs(&hot), hot.total), (vec![4, 5, 6], 3));
    let before = store
        .history(&order("a"), HistoryWindow::Before { seq: 5, limit: 50 })
        .await
        .unwrap();
    assert_eq!((seqs(&before), before.total), (vec![4], 1));
    let after = store
        .history(&order("a"), HistoryWindow::After { seq: 0, limit: 2 })
        .await
        .unwrap();
    assert_eq!((seqs(&after), after.total), (vec![4, 5], 3));
    assert!(
        store.message(&ids[0]).await.unwrap().is_none(),
        "gone from the hot table"
    );
    assert_eq!(store.archived_message(&ids[0]).await.unwrap().unwrap().seq, 1);

    // With the archive: every seq, the same windows and totals as before the move.
    let all = store
        .history_with_archive(&order("a"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!((seqs(&all), all.total), (vec![1, 2, 3, 4, 5, 6], 6));
    let page2 = store
        .history_with_archive(&order("a"), HistoryWindow::Page { page: 2, limit: 4 })
        .await
        .unwrap();
    assert_eq!((seqs(&page2), page2.total), (vec![1, 2], 6));
    let before = store
        .history_with_archive(&order("a"), HistoryWindow::Before { seq: 5, limit: 3 })
        .await
        .unwrap();
    assert_eq!((seqs(&before), before.total), (vec![2, 3, 4], 4));
    let after = store
        .history_with_archive(&order("a"), HistoryWindow::After { seq: 1, limit: 3 })
        .await
        .unwrap();
    assert_eq!((seqs(&after), after.total), (vec![2, 3, 4], 5));
    assert_eq!(all.items[0].message, "parcel0 note from ana");

    // The reply's preview still resolves to the archived message.
    let preview = all.items[5]
        .reply_preview
        .as_ref()
        .expect("the preview of an archived message");
    assert_eq!(preview.id, ids[0]);

    // Search (one order, and everything a participant may see) and stats see them.
    let found = store
        .search(&Scope::All, Some(&order("a")), &words(&["parcel0"]), 1, 20)
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].id, ids[0]);
    let mine = store
        .search(&Scope::ParticipantOf(user("ana")), None, &words(&["parcel1"]), 1, 20)
        .await
        .unwrap();
    assert_eq!(mine.total, 2, "a's archived parcel1 and b's hot one");
    let outsider = store
        .search(&Scope::ParticipantOf(user("zed")), None, &words(&["parcel1"]), 1, 20)
        .await
        .unwrap();
    assert_eq!(outsider.total, 0);
    let stats = store.message_stats(&order("a")).await.unwrap();
    assert_eq!(stats.total, 6);
    assert_eq!(stats.first_at.as_deref(), Some(LONG_AGO));

    // Order b (recent) and the order rows are untouched; a second pass moves nothing.
    let b = store
        .history(&order("b"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(seqs(&b), vec![1, 2]);
    assert_eq!(store.order(&order("a")).await.unwrap().unwrap().last_seq, 6);
    assert_eq!(archive(&*store, 500, false).await.0, vec![]);

    // A new message continues the seqs.
    let next = store
        .insert_message(text_from("ana", "a", "later", None))
        .await
        .unwrap()
        .message;
    assert_eq!(next.seq, 7);
}

pub(crate) async fn orders_closed_long_enough_move_whole(db: &TestDb) {
    let store = db.node().await;
    for id in ["closed-long", "closed-recently", "open-long", "reclosed"] {
        add_order(&*store, id, &["ana"]).await;
        send(&*store, "ana", id, 3).await;
    }
    set_status(&*store, "closed-long", "Completed").await;
    store
        .backdate_status_change(&order("closed-long"), &days_ago(40))
        .await
        .unwrap();
    // The same status again is no change: the order stays closed since 40 days.
    set_status(&*store, "closed-long", "Completed").await;
    set_status(&*store, "closed-recently", "cancelled").await;
    store
        .backdate_status_change(&order("closed-recently"), &days_ago(10))
        .await
        .unwrap();
    store
        .backdate_status_change(&order("open-long"), &days_ago(40))
        .await
        .unwrap();
    // Closed long ago, then another status: the clock starts again.
    set_status(&*store, "reclosed", "completed").await;
    store
        .backdate_status_change(&order("reclosed"), &days_ago(40))
        .await
        .unwrap();
    set_status(&*store, "reclosed", "closed").await;

    let (moved, _) = archive(&*store, 500, false).await;
    assert_eq!(moved, vec![("closed-long".to_owned(), 3)]);
    let hot = store
        .history(&order("closed-long"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!((hot.items.len(), hot.total), (0, 0));
    let all = store
        .history_with_archive(&order("closed-long"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(seqs(&all), vec![1, 2, 3]);
    // The chat list still shows the order's last message, now archived.
    let chats = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 1, 50)
        .await
        .unwrap();
    let closed = chats
        .items
        .iter()
        .find(|c| c.order.id.as_str() == "closed-long")
        .unwrap();
    assert_eq!(closed.last_message.as_ref().map(|m| m.seq), Some(3));
    for id in ["closed-recently", "open-long", "reclosed"] {
        let hot = store
            .history(&order(id), HistoryWindow::Page { page: 1, limit: 50 })
            .await
            .unwrap();
        assert_eq!(hot.total, 3, "{id} stays");
    }
}

pub(crate) async fn a_dry_run_reports_and_changes_nothing(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "d", &["ana"]).await;
    send(&*store, "ana", "d", 4).await;
    store.backdate_messages(&order("d"), 2, LONG_AGO).await.unwrap();

    let (would, _) = archive(&*store, 1, true).await;
    assert_eq!(would, vec![("d".to_owned(), 2)]);
    let hot = store
        .history(&order("d"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!((seqs(&hot), hot.total), (vec![1, 2, 3, 4], 4));
    let (moved, _) = archive(&*store, 500, false).await;
    assert_eq!(moved, vec![("d".to_owned(), 2)], "the dry run left everything due");
}

pub(crate) async fn a_batch_moves_at_most_its_limit(db: &TestDb) {
    let store = db.node().await;
    for id in ["o1", "o2"] {
        add_order(&*store, id, &["ana"]).await;
        send(&*store, "ana", id, 5).await;
        store.backdate_messages(&order(id), 5, LONG_AGO).await.unwrap();
    }
    let first = store.archive_batch(&rule(), None, 3, false).await.unwrap();
    assert_eq!(first.orders.iter().map(|(_, n)| n).sum::<i64>(), 3);
    assert!(!first.done);
    let hot = store
        .history(&order("o1"), HistoryWindow::Page { page: 1, limit: 50 })
        .await
        .unwrap();
    assert_eq!(seqs(&hot), vec![4, 5], "a prefix of o1 moved");

    let (moved, batches) = archive(&*store, 3, false).await;
    assert_eq!(moved, vec![("o1".to_owned(), 2), ("o2".to_owned(), 5)]);
    assert!(batches >= 3, "7 messages in batches of 3");
    for id in ["o1", "o2"] {
        let all = store
            .history_with_archive(&order(id), HistoryWindow::Page { page: 1, limit: 50 })
            .await
            .unwrap();
        assert_eq!(seqs(&all), vec![1, 2, 3, 4, 5]);
    }
}

pub(crate) async fn unread_counts_and_read_pointers_are_unchanged_by_a_move(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "u", &["ana", "bo"]).await;
    send(&*store, "ana", "u", 6).await;
    store.mark_read_up_to(&order("u"), &user("bo"), 2).await.unwrap();
    let counts_before = store.unread_counts(&order("u")).await.unwrap();
    let pointers_before = store.read_pointers(&order("u")).await.unwrap();
    assert_eq!(store.unread_count(&order("u"), &user("bo")).await.unwrap(), 4);

    store.backdate_messages(&order("u"), 4, LONG_AGO).await.unwrap();
    assert_eq!(archive(&*store, 500, false).await.0, vec![("u".to_owned(), 4)]);

    let mut counts_after = store.unread_counts(&order("u")).await.unwrap();
    let mut counts_before = counts_before;
    counts_before.sort();
    counts_after.sort();
    assert_eq!(counts_after, counts_before);
    let pointers_after = store.read_pointers(&order("u")).await.unwrap();
    let key = |p: &orderchat::store::ReadPointer| (p.user_id.clone(), p.seq, p.updated_at.clone());
    let mut a: Vec<_> = pointers_before.iter().map(key).collect();
    let mut b: Vec<_> = pointers_after.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Moving the pointer into the archived part still counts the archived messages above it.
    assert_eq!(
        store.mark_read_up_to(&order("u"), &user("bo"), 3).await.unwrap(),
        (3, 3)
    );
    // A participant added after the move, and staff without a pointer, count them too.
    let participants = ["ana", "bo", "cy"].map(|id| orderchat::domain::Participant {
        user_id: user(id),
        role: "driver".into(),
        name: None,
    });
    let changes = OrderChanges {
        status: None,
        participants: Some(participants.to_vec()),
    };
    store.update_order(&order("u"), changes).await.unwrap();
    assert_eq!(store.unread_count(&order("u"), &user("cy")).await.unwrap(), 6);
    assert_eq!(store.unread_count(&order("u"), &user("staff")).await.unwrap(), 6);
}
