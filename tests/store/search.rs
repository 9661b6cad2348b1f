//! Full-text search: scopes, words, prefixes, ranking, and words that look like syntax.

use super::*;

pub(crate) async fn search_respects_scope_and_order(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["ana"]).await;
    add_order(&*store, "b", &["bo"]).await;
    store
        .insert_message(text_from("ana", "a", "gate code", None))
        .await
        .unwrap();
    store
        .insert_message(text_from("bo", "b", "gate open", None))
        .await
        .unwrap();
    let mine = store
        .search(&Scope::ParticipantOf(user("ana")), None, &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    assert_eq!(mine.items[0].message, "gate code");
    let all = store.search(&Scope::All, None, &words(&["gate"]), 1, 10).await.unwrap();
    assert_eq!(all.total, 2);
    let in_b = store
        .search(&Scope::All, Some(&order("b")), &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(in_b.items[0].message, "gate open");
}

/// Order ids are indexed to narrow searches, tokenized like words: ids that share
/// tokens (`ord-1`, `ord 1`, `ord"1`) must still never see each other's messages, and
/// the words of an id are not words of its messages.
pub(crate) async fn search_keeps_orders_whose_ids_share_tokens_apart(db: &TestDb) {
    let store = db.node().await;
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        add_order(&*store, id, &[who]).await;
        store
            .insert_message(text_from(who, id, &format!("gate code of {who}"), None))
            .await
            .unwrap();
    }
    for (id, who) in [("ord-1", "ana"), ("ord 1", "bo"), ("ord\"1", "cy")] {
        let inside = store
            .search(&Scope::All, Some(&order(id)), &words(&["gate"]), 1, 10)
            .await
            .unwrap();
        let texts: Vec<_> = inside.items.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(texts, [format!("gate code of {who}")], "inside {id}");
        assert_eq!(inside.total, 1);
        let theirs = store
            .search(&Scope::ParticipantOf(user(who)), None, &words(&["gate"]), 1, 10)
            .await
            .unwrap();
        assert_eq!(theirs.total, 1, "{who} sees only their order");
        assert_eq!(theirs.items[0].order_id, order(id));
    }
    let by_id_words = store.search(&Scope::All, None, &words(&["ord"]), 1, 10).await.unwrap();
    assert_eq!(by_id_words.total, 0, "an order id's words are not message words");
    let nobody = store
        .search(&Scope::ParticipantOf(user("no-orders")), None, &words(&["gate"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(nobody.total, 0);
}

pub(crate) async fn search_matches_every_word_and_the_last_as_a_prefix(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "s", &["u"]).await;
    for text in [
        "the gateway is closed",
        "Gate code 1234, gate on the left, gate is blue",
        "leave it at the gate",
        "nothing to see",
    ] {
        store.insert_message(text_from("u", "s", text, None)).await.unwrap();
    }
    let texts = |page: orderchat::store::Page<orderchat::domain::Message>| {
        page.items.into_iter().map(|m| m.message).collect::<Vec<_>>()
    };
    let prefix = store.search(&Scope::All, None, &words(&["gat"]), 1, 10).await.unwrap();
    assert_eq!(prefix.total, 3, "the last word matches as a prefix");
    let whole = store
        .search(&Scope::All, None, &words(&["gate", "left"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(texts(whole), ["Gate code 1234, gate on the left, gate is blue"]);
    let not_a_prefix = store
        .search(&Scope::All, None, &words(&["gat", "the"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(not_a_prefix.total, 0, "only the last word is a prefix");
    let ranked = store.search(&Scope::All, None, &words(&["gate"]), 1, 10).await.unwrap();
    assert_eq!(ranked.total, 3);
    assert_eq!(
        ranked.items[0].message, "Gate code 1234, gate on the left, gate is blue",
        "the message with the word three times ranks first"
    );
    let paged = store.search(&Scope::All, None, &words(&["gate"]), 2, 2).await.unwrap();
    assert_eq!(paged.items.len(), 1);
    assert_eq!(paged.total, 3);
}

/// Case and accents do not matter, either way round, on both backends: a driver typing
/// without accents finds "Café", and "cafe" is found by "CAFÉ".
pub(crate) async fn search_ignores_case_and_accents(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "a", &["u"]).await;
    for text in [
        "meet me at the Café Münster",
        "the cafe on Ñandú street",
        "nothing here",
    ] {
        store.insert_message(text_from("u", "a", text, None)).await.unwrap();
    }
    let found = |terms: &'static [&'static str]| {
        let store = store.clone();
        async move {
            let page = store.search(&Scope::All, None, &words(terms), 1, 10).await.unwrap();
            let mut texts: Vec<String> = page.items.into_iter().map(|m| m.message).collect();
            texts.sort();
            texts
        }
    };
    let both = ["meet me at the Café Münster", "the cafe on Ñandú street"];
    assert_eq!(found(&["cafe"]).await, both);
    assert_eq!(found(&["CAFÉ"]).await, both);
    assert_eq!(found(&["munster"]).await, ["meet me at the Café Münster"]);
    assert_eq!(found(&["nandu"]).await, ["the cafe on Ñandú street"]);
    assert_eq!(
        found(&["ÑAN"]).await,
        ["the cafe on Ñandú street"],
        "a prefix folds too"
    );
}

/// Words are text, whatever they hold: query-language operators, quotes, wildcards,
/// any script. No search fails, and an operator word does not widen the search.
pub(crate) async fn search_takes_any_words_without_failing(db: &TestDb) {
    let store = db.node().await;
    add_order(&*store, "w", &["u"]).await;
    store
        .insert_message(text_from("u", "w", "call me or text, don't ring", None))
        .await
        .unwrap();
    let hostile: &[&[&str]] = &[
        &["\""],
        &["*"],
        &["or"],
        &["OR", "NEAR("],
        &["a:b", "-x", "!y", "'"],
        &["body:", "{body}", ":*"],
        &["don't"],
        &["日本語", "ё", "\u{0}", "a\u{0}b", "\u{7}"],
        &["(", ")", "&", "|", "<->"],
    ];
    for terms in hostile {
        let result = store
            .search(
                &Scope::ParticipantOf(user("u")),
                Some(&order("w")),
                &words(terms),
                1,
                10,
            )
            .await;
        assert!(result.is_ok(), "{terms:?}: {result:?}");
    }
    let or = store.search(&Scope::All, None, &words(&["or"]), 1, 10).await.unwrap();
    assert_eq!(or.total, 1, "`or` is a word here");
    let widened = store
        .search(&Scope::All, None, &words(&["nothing", "OR", "call"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(widened.total, 0, "`OR` does not make an alternative");
    let apostrophe = store
        .search(&Scope::All, None, &words(&["don't"]), 1, 10)
        .await
        .unwrap();
    assert_eq!(apostrophe.total, 1);
}
