//! Stored notifications: coalescing of unread `new-message` rows in place, a cursor that
//! stays stable when a row moves up, the unread filter, read marking (by ids, only the
//! caller's; by position) and expiry by age.

use orderchat::store::{MarkRead, NewNotification, NotificationKind, NotificationWritten, Store, StoredNotification};

use super::{TestDb, add_order, order, user};

/// A row for `write`, which says its order.
fn row(to: &str, kind: NotificationKind, message_id: &str, seq: i64, count: i64) -> NewNotification {
    NewNotification {
        order_id: order("unset"),
        user_id: user(to),
        kind,
        title: format!("title {message_id}"),
        message: format!("text {message_id}"),
        message_id: message_id.to_owned(),
        seq,
        count,
    }
}

/// Stores `rows` as notifications of `order_id` (one store call).
async fn write(
    store: &dyn Store,
    order_id: &str,
    at: &str,
    rows: &[NewNotification],
) -> orderchat::error::Result<Vec<NotificationWritten>> {
    let rows: Vec<NewNotification> = rows
        .iter()
        .map(|row| NewNotification {
            order_id: order(order_id),
            ..row.clone()
        })
        .collect();
    store.store_notifications(at, &rows).await
}

async fn all(store: &dyn Store, to: &str) -> Vec<StoredNotification> {
    store.notifications(&user(to), None, false, 100).await.unwrap()
}

pub(crate) async fn new_messages_coalesce_in_place_until_read(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "ben", "cy"]).await;
    let first = write(
        &*store,
        "o1",
        "2026-01-01T00:00:00.000Z",
        &[
            row("ben", NotificationKind::NewMessage, "m1", 1, 2),
            row("cy", NotificationKind::NewMessage, "m1", 1, 2),
        ],
    )
    .await
    .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|w| w.count == 2 && w.kind == "new-message"));
    let ben_first = first.iter().find(|w| w.user_id == "ben").unwrap().id.clone();

    // The next flush updates ben's unread row in place: same id, counts added, latest
    // message, new updatedAt, and it moves above a mention stored in between.
    write(
        &*store,
        "o1",
        "2026-01-01T00:00:01.000Z",
        &[row("ben", NotificationKind::Mention, "m2", 2, 1)],
    )
    .await
    .unwrap();
    let second = write(
        &*store,
        "o1",
        "2026-01-01T00:00:02.000Z",
        &[row("ben", NotificationKind::NewMessage, "m3", 3, 3)],
    )
    .await
    .unwrap();
    assert_eq!(second[0].id, ben_first);
    assert_eq!(second[0].count, 5);
    let ben = all(&*store, "ben").await;
    assert_eq!(ben.len(), 2, "{ben:?}");
    assert_eq!(ben[0].id, ben_first, "the updated row moved to the top");
    assert_eq!(ben[0].count, 5);
    assert_eq!(ben[0].message_id.as_deref(), Some("m3"));
    assert_eq!(ben[0].seq, Some(3));
    assert_eq!(ben[0].message, "text m3");
    assert_eq!(ben[0].created_at, "2026-01-01T00:00:00.000Z");
    assert_eq!(ben[0].updated_at, "2026-01-01T00:00:02.000Z");
    assert_eq!(ben[1].kind, "mention");
    assert_eq!(all(&*store, "cy").await[0].count, 2, "cy's row is cy's own");

    // Once read, the next message starts a new row.
    let changed = store
        .mark_notifications_read(
            &user("ben"),
            &MarkRead::Ids(vec![ben_first.clone()]),
            "2026-01-01T00:00:03.000Z",
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let third = write(
        &*store,
        "o1",
        "2026-01-01T00:00:04.000Z",
        &[row("ben", NotificationKind::NewMessage, "m4", 4, 1)],
    )
    .await
    .unwrap();
    assert_ne!(third[0].id, ben_first);
    assert_eq!(third[0].count, 1);
    let ben = all(&*store, "ben").await;
    assert_eq!(ben.len(), 3);
    assert_eq!((ben[0].count, ben[0].read_at.is_none()), (1, true));
    assert_eq!(ben[1].id, ben_first);
    assert_eq!(ben[1].read_at.as_deref(), Some("2026-01-01T00:00:03.000Z"));

    // Status changes and mentions are never coalesced.
    write(
        &*store,
        "o1",
        "2026-01-01T00:00:05.000Z",
        &[
            row("cy", NotificationKind::OrderStatus, "s1", 5, 1),
            row("cy", NotificationKind::OrderStatus, "s2", 6, 1),
        ],
    )
    .await
    .unwrap();
    let cy = all(&*store, "cy").await;
    assert_eq!(cy.iter().filter(|n| n.kind == "order-status").count(), 2);
}

pub(crate) async fn one_call_stores_the_rows_of_several_orders_and_coalesces_each(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana"]).await;
    add_order(&*store, "o2", &["ana"]).await;
    let mut rows = vec![row("ana", NotificationKind::NewMessage, "m1", 1, 1)];
    rows.push(NewNotification {
        order_id: order("o2"),
        ..row("ana", NotificationKind::NewMessage, "m2", 1, 2)
    });
    rows[0].order_id = order("o1");
    let written = store
        .store_notifications("2026-01-01T00:00:00.000Z", &rows)
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
    rows[0].message_id = "m3".into();
    rows[1].message_id = "m4".into();
    let again = store
        .store_notifications("2026-01-01T00:00:01.000Z", &rows)
        .await
        .unwrap();
    let counts: Vec<i64> = again.iter().map(|w| w.count).collect();
    assert_eq!(counts.iter().sum::<i64>(), 2 + 4, "{again:?}");
    let ana = all(&*store, "ana").await;
    assert_eq!(ana.len(), 2, "one unread row per order");
    // Rows of one call get positions in the call's order: the last is the newest.
    assert_eq!(ana[0].order_id, "o2");
    assert_eq!(ana[1].order_id, "o1");
}

pub(crate) async fn cursor_pages_stay_stable_when_a_row_moves_up(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana"]).await;
    add_order(&*store, "o2", &["ana"]).await;
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        write(
            &*store,
            "o2",
            "2026-01-01T00:00:00.000Z",
            &[row("ana", NotificationKind::Mention, id, i as i64 + 1, 1)],
        )
        .await
        .unwrap();
    }
    write(
        &*store,
        "o1",
        "2026-01-01T00:00:00.000Z",
        &[row("ana", NotificationKind::NewMessage, "n1", 1, 1)],
    )
    .await
    .unwrap();
    let page1 = store.notifications(&user("ana"), None, false, 2).await.unwrap();
    let ids: Vec<_> = page1.iter().map(|n| n.message_id.clone().unwrap()).collect();
    assert_eq!(ids, ["n1", "d"]);
    // The new-message row is updated in place (it moves above the cursor): the next
    // page neither repeats it nor skips anything.
    write(
        &*store,
        "o1",
        "2026-01-01T00:00:01.000Z",
        &[row("ana", NotificationKind::NewMessage, "n2", 2, 1)],
    )
    .await
    .unwrap();
    let cursor = page1.last().unwrap().position;
    let page2 = store.notifications(&user("ana"), Some(cursor), false, 2).await.unwrap();
    let ids: Vec<_> = page2.iter().map(|n| n.message_id.clone().unwrap()).collect();
    assert_eq!(ids, ["c", "b"]);
    let page3 = store
        .notifications(&user("ana"), Some(page2[1].position), false, 2)
        .await
        .unwrap();
    let ids: Vec<_> = page3.iter().map(|n| n.message_id.clone().unwrap()).collect();
    assert_eq!(ids, ["a"]);
    let top = store.notifications(&user("ana"), None, false, 1).await.unwrap();
    assert_eq!((top[0].message_id.as_deref(), top[0].count), (Some("n2"), 2));
    assert!(top[0].position > page1[0].position);
}

pub(crate) async fn read_marking_by_ids_touches_only_the_callers_and_by_position_the_older(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "ben"]).await;
    let mut ana_ids = Vec::new();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let written = write(
            &*store,
            "o1",
            "2026-01-01T00:00:00.000Z",
            &[
                row("ana", NotificationKind::Mention, id, i as i64 + 1, 1),
                row("ben", NotificationKind::Mention, id, i as i64 + 1, 1),
            ],
        )
        .await
        .unwrap();
        ana_ids.push(written.iter().find(|w| w.user_id == "ana").unwrap().id.clone());
    }
    let at = "2026-01-02T00:00:00.000Z";
    // Ben cannot mark Ana's; unknown ids are ignored.
    let changed = store
        .mark_notifications_read(&user("ben"), &MarkRead::Ids(ana_ids.clone()), at)
        .await
        .unwrap();
    assert_eq!(changed, 0);
    assert_eq!(
        store.notifications(&user("ana"), None, true, 10).await.unwrap().len(),
        3
    );
    let changed = store
        .mark_notifications_read(
            &user("ana"),
            &MarkRead::Ids(vec![ana_ids[0].clone(), "nope".into()]),
            at,
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let again = store
        .mark_notifications_read(&user("ana"), &MarkRead::Ids(vec![ana_ids[0].clone()]), at)
        .await
        .unwrap();
    assert_eq!(again, 0, "already read");
    let unread = store.notifications(&user("ana"), None, true, 10).await.unwrap();
    let ids: Vec<_> = unread.iter().map(|n| n.message_id.clone().unwrap()).collect();
    assert_eq!(ids, ["c", "b"]);

    // By position: b and everything older (a is read already), not c.
    let b = unread[1].position;
    let changed = store
        .mark_notifications_read(&user("ana"), &MarkRead::AtOrBelow(b), at)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let unread = store.notifications(&user("ana"), None, true, 10).await.unwrap();
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].message_id.as_deref(), Some("c"));
    assert_eq!(
        store.notifications(&user("ben"), None, true, 10).await.unwrap().len(),
        3
    );
}

pub(crate) async fn expiry_deletes_only_rows_older_than_the_cutoff(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana"]).await;
    for (at, id) in [
        ("2026-01-01T00:00:00.000Z", "old1"),
        ("2026-01-02T00:00:00.000Z", "old2"),
        ("2026-01-03T00:00:00.000Z", "old3"),
        ("2026-03-01T00:00:00.000Z", "new"),
    ] {
        write(&*store, "o1", at, &[row("ana", NotificationKind::Mention, id, 1, 1)])
            .await
            .unwrap();
    }
    let deleted = store
        .delete_notifications_before("2026-02-01T00:00:00.000Z", 2)
        .await
        .unwrap();
    assert_eq!(deleted, 2, "one batch at most");
    let deleted = store
        .delete_notifications_before("2026-02-01T00:00:00.000Z", 2)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let left = all(&*store, "ana").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id.as_deref(), Some("new"));
}
