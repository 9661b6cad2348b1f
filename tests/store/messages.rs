//! One order's messages: history windows, edits and deletions.

use super::*;

pub(crate) async fn history_windows_are_seq_ranges_with_their_counts(db: &TestDb) {
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

pub(crate) async fn edits_and_deletions_change_the_stored_message(db: &TestDb) {
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

/// Message ids come from clients as they typed them; one that cannot exist (a NUL in
/// it, which PostgreSQL refuses in any text) is simply not found, never a server error.
pub(crate) async fn ids_that_cannot_exist_are_not_found(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "n", &["u"]).await;
    store.insert_message(text_from("u", "n", "hello", None)).await.unwrap();
    for id in ["\0", "a\0b", "", "\u{7}", "' OR 1=1 --"] {
        assert!(store.message(id).await.unwrap().is_none(), "{id:?}");
        assert!(
            matches!(store.delete_message(id).await, Err(Error::MessageNotFound)),
            "{id:?}"
        );
        assert!(
            matches!(
                store.edit_message(id, &MessageText::parse("x", 4000).unwrap()).await,
                Err(Error::Conflict(_))
            ),
            "{id:?}"
        );
    }
}
