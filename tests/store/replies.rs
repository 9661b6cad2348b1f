//! Replies: the preview of the quoted message on every read, and the replies to one
//! message in seq order.

use orderchat::domain::{Message, REPLY_EXCERPT_CHARS, ReplyPreview};

use super::*;

/// A reply by `author` to `quoted`, as the send use case builds it.
fn reply_from(author: &str, quoted: &Message, text: &str) -> NewMessage {
    NewMessage {
        reply_to: Some(Box::new(ReplyPreview::of(quoted))),
        ..text_from(author, quoted.order_id.as_str(), text, None)
    }
}

async fn send(store: &Arc<dyn Store>, new: NewMessage) -> Message {
    store.insert_message(new).await.unwrap().message
}

async fn read(store: &Arc<dyn Store>, id: &str) -> Message {
    store.message(id).await.unwrap().unwrap()
}

pub(crate) async fn a_reply_carries_a_preview_of_the_quoted_message_on_every_read(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "p", &["ana", "dan"]).await;
    // Two-byte characters: a byte cut would split one.
    let long = format!("quoted {}", "é".repeat(300));
    let quoted = send(&store, text_from("ana", "p", &long, None)).await;
    let reply = send(&store, reply_from("dan", &quoted, "answer")).await;

    let expected = ReplyPreview {
        id: quoted.id.clone(),
        user: quoted.user.clone(),
        sender_type: SenderType::User,
        message: Some(long.chars().take(REPLY_EXCERPT_CHARS).collect()),
        deleted: false,
    };
    assert_eq!(reply.reply_to.as_deref(), Some(quoted.id.as_str()));
    assert_eq!(reply.reply_preview.as_deref(), Some(&expected), "as committed");
    assert_eq!(
        read(&store, &reply.id).await.reply_preview.as_deref(),
        Some(&expected),
        "by id"
    );
    let history = store
        .history(&order("p"), HistoryWindow::Page { page: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!(
        history.items[0].reply_preview, None,
        "the quoted message replies to nothing"
    );
    assert_eq!(history.items[1].reply_preview.as_deref(), Some(&expected), "in history");
    let found = store
        .search(&Scope::All, None, &SearchTerms::new(["answer"]).unwrap(), 1, 10)
        .await
        .unwrap();
    assert_eq!(found.items[0].reply_preview.as_deref(), Some(&expected), "in search");
    let chats = store.order_chats(&Scope::All, &user("ana"), 1, 10).await.unwrap();
    let last = chats.items[0].last_message.as_ref().unwrap();
    assert_eq!(
        last.reply_preview.as_deref(),
        Some(&expected),
        "as the chat list's last message"
    );
}

pub(crate) async fn a_quote_follows_edits_and_hides_the_text_once_deleted(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "d", &["ana", "dan"]).await;
    let quoted = send(&store, text_from("ana", "d", "my address is 1 Main St", None)).await;
    let reply = send(&store, reply_from("dan", &quoted, "got it")).await;

    store
        .edit_message(&quoted.id, &MessageText::parse("my address is 2 Elm St", 4000).unwrap())
        .await
        .unwrap();
    let preview = read(&store, &reply.id).await.reply_preview.unwrap();
    assert_eq!(preview.message.as_deref(), Some("my address is 2 Elm St"));

    store.delete_message(&quoted.id).await.unwrap();
    let preview = read(&store, &reply.id).await.reply_preview.unwrap();
    assert_eq!((preview.message, preview.deleted), (None, true));
    let history = store
        .history(&order("d"), HistoryWindow::After { seq: 0, limit: 10 })
        .await
        .unwrap();
    let preview = history.items[1].reply_preview.clone().unwrap();
    assert_eq!((preview.message, preview.deleted), (None, true), "in history");
    // The reply's own tombstone and edit answers carry the preview too.
    let edited = store
        .edit_message(&reply.id, &MessageText::parse("got it, thanks", 4000).unwrap())
        .await
        .unwrap();
    assert_eq!(edited.reply_preview.map(|p| p.deleted), Some(true));
    let tombstone = store.delete_message(&reply.id).await.unwrap();
    assert_eq!(tombstone.reply_preview.map(|p| p.id), Some(quoted.id));
}

pub(crate) async fn the_replies_to_a_message_come_in_seq_order_by_cursor(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "r", &["ana", "dan"]).await;
    let quoted = send(&store, text_from("ana", "r", "question", None)).await;
    let other = send(&store, text_from("ana", "r", "another question", None)).await;
    let mut replies = Vec::new();
    for n in 0..5 {
        replies.push(
            send(&store, reply_from("dan", &quoted, &format!("answer {n}")))
                .await
                .seq,
        );
        send(&store, reply_from("dan", &other, "to the other")).await;
        send(&store, text_from("ana", "r", "no reply", None)).await;
    }
    let seqs =
        |page: orderchat::store::Page<Message>| (page.items.iter().map(|m| m.seq).collect::<Vec<_>>(), page.total);
    assert_eq!(
        seqs(store.replies(&quoted.id, 0, 100).await.unwrap()),
        (replies.clone(), 5)
    );
    assert_eq!(
        seqs(store.replies(&quoted.id, 0, 2).await.unwrap()),
        (replies[..2].to_vec(), 5)
    );
    assert_eq!(
        seqs(store.replies(&quoted.id, replies[1], 2).await.unwrap()),
        (replies[2..4].to_vec(), 3)
    );
    assert_eq!(
        seqs(store.replies(&quoted.id, replies[4], 2).await.unwrap()),
        (vec![], 0)
    );
    assert_eq!(store.replies(&other.id, 0, 100).await.unwrap().total, 5);
    assert_eq!(
        seqs(store.replies("no-such-message", 0, 10).await.unwrap()),
        (vec![], 0)
    );
    assert_eq!(seqs(store.replies("nul\0id", 0, 10).await.unwrap()), (vec![], 0));
}
