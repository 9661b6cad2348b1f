//! Orders, their participants, and the chat list.

use super::*;

fn participant(id: &str, role: &str, name: Option<&str>) -> Participant {
    Participant {
        user_id: user(id),
        role: role.into(),
        name: name.map(str::to_owned),
    }
}

pub(crate) async fn orders_are_created_updated_and_found_by_participant(db: &TestDb) {
    let store = db.node().await;
    let record = OrderRecord {
        id: order("o-1"),
        number: Some("A-17".into()),
        status: Some("created".into()),
        participants: vec![
            participant("zed", "customer", Some("Zed")),
            participant("amy", "driver", None),
        ],
    };
    let (created, is_new) = store.upsert_order(record.clone()).await.unwrap();
    assert!(is_new);
    assert_eq!(created.number.as_deref(), Some("A-17"));
    assert_eq!(created.last_seq, 0);
    let names: Vec<&str> = created.participants.iter().map(|p| p.user_id.as_str()).collect();
    assert_eq!(names, ["zed", "amy"], "participants keep the order they were given in");
    assert_eq!(created.participants[0].name.as_deref(), Some("Zed"));

    let (again, is_new) = store
        .upsert_order(OrderRecord {
            status: Some("picked_up".into()),
            participants: vec![participant("amy", "driver", Some("Amy"))],
            ..record
        })
        .await
        .unwrap();
    assert!(!is_new, "the second upsert replaces");
    assert_eq!(again.status.as_deref(), Some("picked_up"));
    assert_eq!(again.participants, [participant("amy", "driver", Some("Amy"))]);
    assert!(
        store.orders_of(&user("zed")).await.unwrap().is_empty(),
        "zed was removed"
    );

    let changed = store
        .update_order(
            &order("o-1"),
            orderchat::store::OrderChanges {
                status: Some("delivered".into()),
                participants: Some(vec![
                    participant("amy", "driver", None),
                    participant("bo", "support", None),
                ]),
            },
        )
        .await
        .unwrap()
        .expect("the order exists");
    assert_eq!(changed.status.as_deref(), Some("delivered"));
    assert_eq!(changed.participants.len(), 2);
    let untouched = store
        .update_order(&order("o-1"), orderchat::store::OrderChanges::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status.as_deref(), Some("delivered"), "None leaves the status");
    assert_eq!(untouched.participants.len(), 2, "None leaves the participants");
    assert_eq!(
        store.orders_of(&user("bo")).await.unwrap(),
        [(order("o-1"), Some("delivered".to_owned()))]
    );
    assert!(
        store
            .update_order(&order("nope"), orderchat::store::OrderChanges::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.order(&order("nope")).await.unwrap().is_none());
}

pub(crate) async fn the_chat_list_shows_recent_activity_first_with_unread_counts(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "c-old", &["ana", "bo"]).await;
    add_order(&*store, "c-new", &["ana", "bo"]).await;
    add_order(&*store, "c-other", &["cy"]).await;
    store
        .insert_message(text_from("bo", "c-old", "older", None))
        .await
        .unwrap();
    // Activity times have millisecond precision.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .insert_message(text_from("bo", "c-new", "newer one", None))
        .await
        .unwrap();
    store
        .insert_message(text_from("bo", "c-new", "newer two", None))
        .await
        .unwrap();

    let ana = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 1, 10)
        .await
        .unwrap();
    assert_eq!(ana.total, 2);
    let rows: Vec<(&str, Option<&str>, i64)> = ana
        .items
        .iter()
        .map(|c| {
            (
                c.order.id.as_str(),
                c.last_message.as_ref().map(|m| m.message.as_str()),
                c.unread_count,
            )
        })
        .collect();
    assert_eq!(rows, [("c-new", Some("newer two"), 2), ("c-old", Some("older"), 1)]);
    assert_eq!(ana.items[0].order.participants.len(), 2);

    let first_page = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 1, 1)
        .await
        .unwrap();
    assert_eq!(first_page.items.len(), 1);
    assert_eq!(first_page.total, 2);
    let past_the_end = store
        .order_chats(&Scope::ParticipantOf(user("ana")), &user("ana"), 3, 1)
        .await
        .unwrap();
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total, 2);

    // Staff see every order; without a counter of their own they get a count.
    let staff = store.order_chats(&Scope::All, &user("boss"), 1, 10).await.unwrap();
    assert_eq!(staff.total, 3);
    let other = staff.items.iter().find(|c| c.order.id == order("c-other")).unwrap();
    assert!(other.last_message.is_none());
    assert!(other.order.participants.len() == 1);
    let newest = staff.items.iter().find(|c| c.order.id == order("c-new")).unwrap();
    assert_eq!(newest.unread_count, 2);
}

pub(crate) async fn last_seqs_of_many_orders_come_in_one_read(db: &TestDb) {
    let store = db.node().await;
    for id in ["ls-a", "ls-b", "ls-c"] {
        add_order(&*store, id, &["u"]).await;
    }
    for (id, count) in [("ls-a", 3), ("ls-c", 1)] {
        for n in 0..count {
            store
                .insert_message(text_from("u", id, &format!("m{n}"), None))
                .await
                .unwrap();
        }
    }
    let mut last = store
        .last_seqs(&[order("ls-a"), order("ls-b"), order("ls-c"), order("ls-unknown")])
        .await
        .unwrap();
    last.sort();
    assert_eq!(
        last,
        [(order("ls-a"), 3), (order("ls-b"), 0), (order("ls-c"), 1)],
        "an unknown order is left out"
    );
    assert!(store.last_seqs(&[]).await.unwrap().is_empty());
}

pub(crate) async fn mutes_are_per_user_and_order_and_idempotent(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "o1", &["ana", "ben"]).await;
    add_order(&*store, "o2", &["ana"]).await;
    assert!(store.muted_users(&order("o1")).await.unwrap().is_empty());
    store.set_muted(&order("o1"), &user("ana"), true).await.unwrap();
    store.set_muted(&order("o1"), &user("ana"), true).await.unwrap();
    assert_eq!(store.muted_users(&order("o1")).await.unwrap(), vec![user("ana")]);
    assert!(store.muted_users(&order("o2")).await.unwrap().is_empty());
    store.set_muted(&order("o1"), &user("ana"), false).await.unwrap();
    store.set_muted(&order("o1"), &user("ana"), false).await.unwrap();
    assert!(store.muted_users(&order("o1")).await.unwrap().is_empty());
}
