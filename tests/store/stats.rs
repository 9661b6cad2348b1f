//! One order's statistics, counted by the database: totals by sender, tombstones,
//! attachments, first and last activity, and the median staff first-response time on
//! a conversation whose timestamps are set by hand.

use orderchat::store::MessageStats;

use super::*;

fn from(sender: SenderType, author: Option<&str>, order_id: &str, text: &str) -> NewMessage {
    NewMessage {
        author: author.map(|id| MessageUser {
            id: user(id),
            name: None,
            role: "driver".into(),
        }),
        sender_type: sender,
        message_type: if sender == SenderType::System {
            MessageType::System
        } else {
            MessageType::Text
        },
        ..text_from("x", order_id, text, None)
    }
}

/// Sends `script` (sender, author, minute:second after 00:00 of 2026-01-01) into
/// `order_id`, then stamps each message with its time.
async fn conversation(db: &TestDb, store: &dyn Store, order_id: &str, script: &[(SenderType, Option<&str>, &str)]) {
    for (n, (sender, author, at)) in script.iter().enumerate() {
        let sent = store
            .insert_message(from(*sender, *author, order_id, &format!("line {n}")))
            .await
            .unwrap()
            .message;
        let millis = if at.contains('.') { "" } else { ".000" };
        db.execute(&format!(
            "UPDATE messages SET created_at = '2026-01-01T00:{at}{millis}Z' WHERE id = '{}'",
            sent.id
        ))
        .await;
    }
}

pub(crate) async fn stats_count_by_sender_and_take_the_median_staff_first_response(db: &TestDb) {
    use SenderType::{Admin, System, User};
    let store = db.node().await;
    add_order(&*store, "s", &["ana", "bo"]).await;
    conversation(
        db,
        &*store,
        "s",
        &[
            (User, Some("ana"), "00:00"),     // 1: starts a wait (the chat's first message)
            (User, Some("ana"), "00:30"),     // 2: the same wait
            (System, None, "00:45"),          // 3: neither starts nor ends one
            (Admin, Some("dan"), "02:00"),    // 4: answers 1 after 120 s
            (User, Some("ana"), "03:00"),     // 5: starts a wait
            (Admin, Some("dan"), "03:10"),    // 6: answers 5 after 10 s
            (Admin, Some("dan"), "03:20"),    // 7: no wait open
            (User, Some("bo"), "04:00"),      // 8: starts a wait (deleted below: it still counts)
            (Admin, Some("eve"), "10:00"),    // 9: answers 8 after 360 s
            (User, Some("ana"), "11:00.500"), // 10: starts a wait nobody answered yet
        ],
    )
    .await;
    let attachment = r#"{"id":"a","fileName":"f.pdf","contentType":"application/pdf","size":3,"url":"/x"}"#;
    for (seq, attachments) in [(1, 2), (5, 1), (8, 1)] {
        let list = vec![attachment; attachments].join(",");
        db.execute(&format!(
            "UPDATE messages SET attachments = '[{list}]' WHERE order_id = 's' AND seq = {seq}"
        ))
        .await;
    }
    let eighth = store
        .history(&order("s"), HistoryWindow::After { seq: 7, limit: 1 })
        .await
        .unwrap()
        .items
        .remove(0);
    store.delete_message(&eighth.id).await.unwrap();

    let stats = store.message_stats(&order("s")).await.unwrap();
    assert_eq!(
        stats,
        MessageStats {
            total: 10,
            by_user: 5,
            by_admin: 4,
            by_system: 1,
            deleted: 1,
            // The tombstone dropped its attachment.
            attachments: 3,
            first_at: Some("2026-01-01T00:00:00.000Z".into()),
            last_at: Some("2026-01-01T00:11:00.500Z".into()),
            answered_waits: 3,
            median_first_response_ms: Some(120_000.0),
        }
    );
}

pub(crate) async fn stats_take_the_mean_of_the_two_middle_waits_and_are_empty_without_messages(db: &TestDb) {
    use SenderType::{Admin, User};
    let store = db.node().await;
    add_order(&*store, "even", &["ana"]).await;
    add_order(&*store, "empty", &["ana"]).await;
    add_order(&*store, "unanswered", &["ana"]).await;
    conversation(
        db,
        &*store,
        "even",
        &[
            (Admin, Some("dan"), "00:00"), // staff first: no wait
            (User, Some("ana"), "01:00"),
            (Admin, Some("dan"), "01:01.250"), // 1.25 s
            (User, Some("ana"), "02:00"),
            (Admin, Some("dan"), "02:04"), // 4 s
        ],
    )
    .await;
    conversation(db, &*store, "unanswered", &[(User, Some("ana"), "00:00")]).await;

    let even = store.message_stats(&order("even")).await.unwrap();
    assert_eq!(even.answered_waits, 2);
    assert_eq!(even.median_first_response_ms, Some(2_625.0));
    let unanswered = store.message_stats(&order("unanswered")).await.unwrap();
    assert_eq!((unanswered.total, unanswered.by_user), (1, 1));
    assert_eq!(
        (unanswered.answered_waits, unanswered.median_first_response_ms),
        (0, None)
    );
    assert_eq!(
        store.message_stats(&order("empty")).await.unwrap(),
        MessageStats::default()
    );
    // An order that does not exist has no messages either (the use case refuses it first).
    assert_eq!(
        store.message_stats(&order("nope")).await.unwrap(),
        MessageStats::default()
    );
}
