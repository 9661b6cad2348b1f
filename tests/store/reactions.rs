//! Reactions: one per user per emoji, idempotent both ways, the summary on every read
//! of the message, the limit of distinct emojis, and none on a tombstone.

use orderchat::domain::{Emoji, MAX_REACTION_EMOJIS, Message, Reaction};

use super::*;

fn emoji(raw: &str) -> Emoji {
    Emoji::parse(raw).unwrap()
}

/// `(emoji, [user ids])` of each reaction, in order.
fn summary(message: &Message) -> Vec<(String, Vec<String>)> {
    message
        .reactions
        .iter()
        .map(|Reaction { emoji, user_ids }| (emoji.clone(), user_ids.iter().map(|u| u.as_str().to_owned()).collect()))
        .collect()
}

fn expected(entries: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    entries
        .iter()
        .map(|(e, users)| ((*e).to_owned(), users.iter().map(|u| (*u).to_owned()).collect()))
        .collect()
}

async fn send(store: &Arc<dyn Store>, author: &str, order_id: &str, text: &str) -> Message {
    store
        .insert_message(text_from(author, order_id, text, None))
        .await
        .unwrap()
        .message
}

pub(crate) async fn reactions_are_one_per_user_per_emoji_and_idempotent(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "r", &["ana", "dan"]).await;
    let m = send(&store, "ana", "r", "hello").await;
    assert!(m.reactions.is_empty());

    let (after, changed) = store.add_reaction(&m.id, &user("dan"), &emoji("👍")).await.unwrap();
    assert!(changed);
    assert_eq!(summary(&after), expected(&[("👍", &["dan"])]));
    assert!(after.updated_at >= m.updated_at);
    assert_eq!(after.edited_at, None, "a reaction is not an edit");

    let (again, changed) = store.add_reaction(&m.id, &user("dan"), &emoji("👍")).await.unwrap();
    assert!(!changed, "the same reaction twice changes nothing");
    assert_eq!(summary(&again), expected(&[("👍", &["dan"])]));

    store.add_reaction(&m.id, &user("ana"), &emoji("🎉")).await.unwrap();
    let (both, _) = store.add_reaction(&m.id, &user("ana"), &emoji("👍")).await.unwrap();
    assert_eq!(
        summary(&both),
        expected(&[("👍", &["dan", "ana"]), ("🎉", &["ana"])]),
        "emojis in order of first use, users in the order they reacted"
    );

    let (removed, changed) = store.remove_reaction(&m.id, &user("dan"), &emoji("👍")).await.unwrap();
    assert!(changed);
    assert_eq!(
        summary(&removed),
        expected(&[("🎉", &["ana"]), ("👍", &["ana"])]),
        "ordered by each emoji's oldest reaction still there: ana's 👍 came after her 🎉"
    );
    let (same, changed) = store.remove_reaction(&m.id, &user("dan"), &emoji("👍")).await.unwrap();
    assert!(!changed, "removing a reaction that is not there changes nothing");
    assert_eq!(summary(&same), summary(&removed));
    let (last, _) = store.remove_reaction(&m.id, &user("ana"), &emoji("🎉")).await.unwrap();
    assert_eq!(last.reactions.len(), 1);
    assert_eq!(
        summary(&last),
        expected(&[("👍", &["ana"])]),
        "an emoji nobody uses is gone"
    );

    // Variants are kept apart, as sent.
    let (variants, _) = store.add_reaction(&m.id, &user("dan"), &emoji("❤️")).await.unwrap();
    let (variants2, _) = store.add_reaction(&m.id, &user("dan"), &emoji("❤")).await.unwrap();
    assert_eq!(variants.reactions.len() + 1, variants2.reactions.len());
}

pub(crate) async fn the_reaction_summary_comes_with_every_read(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "s", &["ana", "dan"]).await;
    let first = send(&store, "ana", "s", "findable words").await;
    send(&store, "dan", "s", "plain").await;
    store.add_reaction(&first.id, &user("dan"), &emoji("👍")).await.unwrap();
    store.add_reaction(&first.id, &user("ana"), &emoji("👍")).await.unwrap();
    let (last, _) = store.add_reaction(&first.id, &user("dan"), &emoji("👩🏽‍💻")).await.unwrap();
    let want = expected(&[("👍", &["dan", "ana"]), ("👩🏽‍💻", &["dan"])]);
    assert_eq!(summary(&last), want, "as changed");

    assert_eq!(
        summary(&store.message(&first.id).await.unwrap().unwrap()),
        want,
        "by id"
    );
    let history = store
        .history(&order("s"), HistoryWindow::Page { page: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!(summary(&history.items[0]), want, "in history");
    assert!(history.items[1].reactions.is_empty(), "only on the message reacted to");
    let after = store
        .history(&order("s"), HistoryWindow::After { seq: 0, limit: 10 })
        .await
        .unwrap();
    assert_eq!(summary(&after.items[0]), want, "in a catch-up");
    let found = store
        .search(&Scope::All, None, &words(&["findable"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(summary(&found.items[0]), want, "in search");

    // The chat list carries the last message: react to it too.
    let second = &history.items[1];
    store
        .add_reaction(&second.id, &user("ana"), &emoji("🇪🇸"))
        .await
        .unwrap();
    let chats = store.order_chats(&Scope::All, &user("ana"), 1, 10).await.unwrap();
    let last_message = chats.items[0].last_message.as_ref().unwrap();
    assert_eq!(summary(last_message), expected(&[("🇪🇸", &["ana"])]), "in the chat list");

    // A second node reads what the first wrote.
    let other = db.node().await;
    assert_eq!(
        summary(&other.message(&first.id).await.unwrap().unwrap()),
        want,
        "from another node"
    );
}

pub(crate) async fn a_message_takes_a_limited_number_of_distinct_emojis(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "l", &["ana", "dan"]).await;
    let m = send(&store, "ana", "l", "popular").await;
    // Twenty distinct emojis: U+1F600 and on are all emoji.
    let emojis: Vec<String> = (0..MAX_REACTION_EMOJIS as u32)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &emojis {
        store.add_reaction(&m.id, &user("ana"), &emoji(e)).await.unwrap();
    }
    let refused = store.add_reaction(&m.id, &user("ana"), &emoji("👍")).await.unwrap_err();
    assert!(
        matches!(refused, Error::TooManyReactions { max } if max == MAX_REACTION_EMOJIS),
        "{refused:?}"
    );
    // An emoji already there may still be used by someone else.
    let (joined, changed) = store
        .add_reaction(&m.id, &user("dan"), &emoji(&emojis[3]))
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(joined.reactions.len(), MAX_REACTION_EMOJIS);
    assert_eq!(joined.reactions[3].user_ids.len(), 2);
    // Once one is gone, another fits.
    store
        .remove_reaction(&m.id, &user("ana"), &emoji(&emojis[0]))
        .await
        .unwrap();
    let (fits, _) = store.add_reaction(&m.id, &user("ana"), &emoji("👍")).await.unwrap();
    assert_eq!(fits.reactions.len(), MAX_REACTION_EMOJIS);
    assert_eq!(fits.reactions.last().map(|r| r.emoji.as_str()), Some("👍"));
}

pub(crate) async fn deleting_a_message_clears_its_reactions_and_refuses_new_ones(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "d", &["ana", "dan"]).await;
    let m = send(&store, "ana", "d", "soon gone").await;
    store.add_reaction(&m.id, &user("dan"), &emoji("👍")).await.unwrap();
    let tombstone = store.delete_message(&m.id).await.unwrap();
    assert!(tombstone.deleted);
    assert!(tombstone.reactions.is_empty(), "the tombstone keeps no reactions");
    assert!(store.message(&m.id).await.unwrap().unwrap().reactions.is_empty());

    let add = store.add_reaction(&m.id, &user("dan"), &emoji("🎉")).await.unwrap_err();
    assert!(matches!(add, Error::MessageDeleted), "{add:?}");
    let remove = store
        .remove_reaction(&m.id, &user("dan"), &emoji("👍"))
        .await
        .unwrap_err();
    assert!(matches!(remove, Error::MessageDeleted), "{remove:?}");
    let unknown = store
        .add_reaction("no-such-message", &user("dan"), &emoji("🎉"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::MessageNotFound), "{unknown:?}");
    let nul = store
        .remove_reaction("a\0b", &user("dan"), &emoji("🎉"))
        .await
        .unwrap_err();
    assert!(matches!(nul, Error::MessageNotFound), "{nul:?}");
}

pub(crate) async fn concurrent_reactions_from_two_nodes_are_all_counted(db: &TestDb) {
    let one = db.node().await;
    let two = db.node().await;
    add_order(&*one, "c", &["ana"]).await;
    let m = send(&one, "ana", "c", "race").await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = if n % 2 == 0 { one.clone() } else { two.clone() };
        let id = m.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_reaction(&id, &user(&format!("u{n}")), &emoji("👍"))
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = one.message(&m.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions.len(), 1);
    assert_eq!(stored.reactions[0].user_ids.len(), 16, "no change lost to another");
}
