//! Upload rows: recorded, counted for the quota, claimed by the message that attaches
//! them (in the message's own transaction, once, only by their uploader in their
//! order), and deleted when unreferenced or with their message.

use orderchat::domain::Attachment;
use orderchat::store::StoredAttachment;

use super::*;

fn upload(id: &str, order_id: &str, uploader: &str, size: i64, created_at: &str) -> StoredAttachment {
    StoredAttachment {
        id: id.into(),
        order_id: order_id.into(),
        uploader_id: uploader.into(),
        file_name: format!("{id}.pdf"),
        content_type: "application/pdf".into(),
        size,
        object_key: format!("ab/cd/{id}"),
        thumbnail_key: None,
        message_id: None,
        created_at: created_at.into(),
    }
}

fn as_attachment(stored: &StoredAttachment) -> Attachment {
    Attachment {
        id: stored.id.clone(),
        file_name: stored.file_name.clone(),
        content_type: stored.content_type.clone(),
        size: stored.size,
        url: format!("/api/chat/attachments/{}", stored.id),
        thumbnail_url: None,
    }
}

/// A message by `author` in `order_id` attaching `uploads`.
fn with_files(author: &str, order_id: &str, uploads: &[&StoredAttachment]) -> NewMessage {
    NewMessage {
        message_type: MessageType::File,
        attachments: uploads.iter().map(|u| as_attachment(u)).collect(),
        ..text_from(author, order_id, "files", None)
    }
}

pub(crate) async fn uploads_are_recorded_and_counted_for_the_quota(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "ben"]).await;
    for (id, size, at) in [
        ("a1", 100, "2026-01-01T10:00:00.000Z"),
        ("a2", 250, "2026-01-02T09:00:00.000Z"),
        ("a3", 50, "2026-01-02T11:00:00.000Z"),
    ] {
        store
            .insert_attachment(&upload(id, "o1", "ana", size, at))
            .await
            .unwrap();
    }
    store
        .insert_attachment(&upload("b1", "o1", "ben", 999, "2026-01-02T10:00:00.000Z"))
        .await
        .unwrap();

    assert_eq!(
        store.attachment("a2").await.unwrap(),
        Some(upload("a2", "o1", "ana", 250, "2026-01-02T09:00:00.000Z"))
    );
    assert_eq!(store.attachment("nope").await.unwrap(), None);
    let usage = store
        .upload_usage(&user("ana"), "2026-01-02T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(usage.bytes, 300);
    assert_eq!(usage.oldest_at.as_deref(), Some("2026-01-02T09:00:00.000Z"));
    let nothing = store
        .upload_usage(&user("cid"), "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!((nothing.bytes, nothing.oldest_at), (0, None));
}

pub(crate) async fn a_message_takes_its_uploads_once_and_only_its_authors_in_its_order(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "ben"]).await;
    add_order(&*store, "o2", &["ana"]).await;
    let at = "2026-01-01T10:00:00.000Z";
    let a1 = upload("a1", "o1", "ana", 10, at);
    let a2 = upload("a2", "o1", "ana", 20, at);
    let b1 = upload("b1", "o1", "ben", 30, at);
    let other_order = upload("x1", "o2", "ana", 40, at);
    for u in [&a1, &a2, &b1, &other_order] {
        store.insert_attachment(u).await.unwrap();
    }

    let sent = store
        .insert_message(with_files("ana", "o1", &[&a1, &a2]))
        .await
        .unwrap()
        .message;
    assert_eq!(sent.attachments, vec![as_attachment(&a1), as_attachment(&a2)]);
    assert_eq!(
        store.message(&sent.id).await.unwrap().unwrap().attachments,
        sent.attachments
    );
    assert_eq!(
        store.attachment("a1").await.unwrap().unwrap().message_id,
        Some(sent.id.clone())
    );

    // Taken already; someone else's; another order's; one free and one taken (all or
    // nothing: the free one stays free).
    let a3 = upload("a3", "o1", "ana", 5, at);
    store.insert_attachment(&a3).await.unwrap();
    for refused in [
        with_files("ana", "o1", &[&a1]),
        with_files("ana", "o1", &[&b1]),
        with_files("ana", "o1", &[&other_order]),
        with_files("ana", "o1", &[&a3, &a2]),
    ] {
        let err = store.insert_message(refused).await.unwrap_err();
        assert!(matches!(err, Error::AttachmentTaken), "{err:?}");
    }
    assert_eq!(store.attachment("a3").await.unwrap().unwrap().message_id, None);
    // A refused message took no seq.
    let next = store
        .insert_message(text_from("ben", "o1", "next", None))
        .await
        .unwrap();
    assert_eq!(next.message.seq, sent.seq + 1);
}

pub(crate) async fn messages_racing_for_one_upload_give_it_to_one(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana"]).await;
    let a1 = upload("a1", "o1", "ana", 10, "2026-01-01T10:00:00.000Z");
    store.insert_attachment(&a1).await.unwrap();
    let other = db.node().await;
    let tries: Vec<_> = (0..10)
        .map(|n| {
            let store = if n % 2 == 0 { store.clone() } else { other.clone() };
            store.insert_message(with_files("ana", "o1", &[&a1]))
        })
        .collect();
    let results = futures::future::join_all(tries).await;
    let stored: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(stored.len(), 1, "{results:?}");
    assert_eq!(
        store.attachment("a1").await.unwrap().unwrap().message_id.as_deref(),
        Some(stored[0].message.id.as_str())
    );
}

pub(crate) async fn unreferenced_uploads_and_a_deleted_messages_uploads_are_deleted(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana"]).await;
    let old = "2026-01-01T10:00:00.000Z";
    let new = "2026-01-03T10:00:00.000Z";
    let attached = upload("a1", "o1", "ana", 10, old);
    for u in [
        &attached,
        &upload("a2", "o1", "ana", 10, old),
        &upload("a3", "o1", "ana", 10, new),
    ] {
        store.insert_attachment(u).await.unwrap();
    }
    let sent = store
        .insert_message(with_files("ana", "o1", &[&attached]))
        .await
        .unwrap()
        .message;

    // Only the old upload no message took goes.
    let gone = store
        .delete_unreferenced_attachments("2026-01-02T00:00:00.000Z", 100)
        .await
        .unwrap();
    assert_eq!(gone.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a2"]);
    assert!(store.attachment("a2").await.unwrap().is_none());
    assert!(store.attachment("a1").await.unwrap().is_some());
    assert!(store.attachment("a3").await.unwrap().is_some());

    // Batches: a limit of one deletes one.
    store
        .insert_attachment(&upload("a4", "o1", "ana", 10, old))
        .await
        .unwrap();
    store
        .insert_attachment(&upload("a5", "o1", "ana", 10, old))
        .await
        .unwrap();
    let one = store
        .delete_unreferenced_attachments("2026-01-02T00:00:00.000Z", 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);

    let tombstone = store.delete_message(&sent.id).await.unwrap();
    assert!(tombstone.attachments.is_empty());
    let of_message = store.delete_attachments_of(&sent.id).await.unwrap();
    assert_eq!(of_message.len(), 1);
    assert_eq!(of_message[0].object_key, attached.object_key);
    assert!(store.attachment("a1").await.unwrap().is_none());
    assert!(store.delete_attachments_of(&sent.id).await.unwrap().is_empty());
}
