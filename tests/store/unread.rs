//! Unread counters, kept on every write, against a count from scratch.

use super::*;

pub(crate) async fn unread_counts_skip_own_and_deleted_messages(db: &TestDb) {
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
pub(crate) async fn unread_counters_agree_with_a_recount_after_any_mix_of_writes(db: &TestDb) {
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
