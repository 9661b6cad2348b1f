//! Search text: users type words, never FTS5 syntax. Whatever `q` holds (quotes, `*`,
//! `NEAR(`, `OR`, column filters, control characters, any script), a parsed query is
//! a non-empty list of at most 16 quoted terms taken from `q`, the last one a prefix,
//! and SQLite's FTS5 accepts it; anything else is `invalid_query`.

use orderchat::chat::SearchQuery;
use orderchat::domain::UserId;
use orderchat::store::{Scope, fts5_expression};
use proptest::prelude::*;

use crate::contract::check_refusal;
use crate::store::check_with_db;
use crate::strategies::{edge_i64, hostile_string};

/// Splits `"a" "b""c" "d"*` into its terms (quotes undoubled) and whether each is a
/// prefix; `None` if the expression is not made of quoted terms only.
fn terms_of(fts: &str) -> Option<Vec<(String, bool)>> {
    let mut terms = Vec::new();
    let mut chars = fts.chars().peekable();
    loop {
        if chars.next()? != '"' {
            return None;
        }
        let mut term = String::new();
        loop {
            match chars.next()? {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    term.push('"');
                }
                '"' => break,
                c => term.push(c),
            }
        }
        let prefix = chars.peek() == Some(&'*');
        if prefix {
            chars.next();
        }
        terms.push((term, prefix));
        match chars.next() {
            None => return Some(terms),
            Some(' ') => continue,
            Some(_) => return None,
        }
    }
}

/// Search text: mostly hostile strings, sometimes made of FTS5 operators only.
fn search_text() -> impl Strategy<Value = String> {
    let operator = prop::sample::select(
        &[
            "\"", "*", "^", "NEAR(", ")", "OR", "AND", "NOT", "body:", "{body}", "-", "+", ":", " ",
        ][..],
    );
    prop_oneof![
        4 => hostile_string(),
        1 => prop::collection::vec(operator, 1..12).prop_map(|ops| ops.concat()),
    ]
}

#[test]
fn search_text_becomes_quoted_terms_or_is_refused() {
    let input = (
        prop::option::of(search_text()),
        prop::option::of(edge_i64()),
        prop::option::of(edge_i64()),
    );
    check_with_db(file!(), 512, input, |(q, page, limit), db| {
        let query = match SearchQuery::parse(q.as_deref(), page, limit) {
            Ok(query) => query,
            Err(err) => return check_refusal(&err, &["invalid_query"]),
        };
        let q = q.unwrap_or_default();
        let fts = fts5_expression(query.terms());
        let fts = fts.as_str();
        let terms = terms_of(fts);
        prop_assert!(terms.is_some(), "not a list of quoted terms: {fts:?}");
        let terms = terms.unwrap_or_default();
        prop_assert!((1..=16).contains(&terms.len()), "{} terms in {fts:?}", terms.len());
        let last = terms.len() - 1;
        for (i, (term, prefix)) in terms.iter().enumerate() {
            prop_assert_eq!(*prefix, i == last, "only the last term is a prefix: {:?}", fts);
            prop_assert!(term.chars().any(char::is_alphanumeric), "term without a word: {term:?}");
            prop_assert!(!term.chars().any(char::is_whitespace), "term with a space: {term:?}");
            prop_assert!(q.contains(term.as_str()), "term {term:?} not from q {q:?}");
        }
        prop_assert!((1..=1_000_000).contains(&query.page()));
        prop_assert!((1..=200).contains(&query.limit()));
        prop_assert_eq!(query.page(), page.unwrap_or(1));
        prop_assert_eq!(query.limit(), limit.unwrap_or(50));

        let (page, limit) = (query.page(), query.limit());
        let member = Scope::ParticipantOf(UserId::parse("ana").expect("user id"));
        let searched = db.block_on(async {
            db.store.search(&Scope::All, None, query.terms(), page, limit).await?;
            db.store
                .search(&member, Some(&db.order), query.terms(), page, limit)
                .await
        });
        prop_assert!(
            searched.is_ok(),
            "FTS5 refused {fts:?} (from q {q:?}): {:?}",
            searched.err()
        );
        Ok(())
    });
}
