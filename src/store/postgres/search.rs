//! Full-text search on PostgreSQL: a `tsvector` of each body (a generated column, see
//! the migration) with a GIN index, queried with `websearch_to_tsquery` and ranked with
//! `ts_rank`. Archived messages have a table and index of their own, searched alongside. The order, or the caller's orders, are narrowed inside the query, next to
//! the index match, never filtered afterwards.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::domain::{Message, OrderId};
use crate::error::Result;
use crate::store::rows::{MessageRow, archived_with_replies, message_columns, messages_with_replies};
use crate::store::{Page, Scope, SearchTerms};

/// Messages that are not deleted and hold every word (the last one as a prefix), in
/// `scope` and `order`, best match first, newest first among equals.
pub(super) async fn search(
    pool: &PgPool,
    scope: &Scope,
    order: Option<&OrderId>,
    terms: &SearchTerms,
    page: i64,
    limit: i64,
) -> Result<Page<Message>> {
    let whole = quoted_words(terms.whole_words().iter().map(String::as_str));
    let prefix = quoted_words([terms.prefix()]);
    // Hot and archived messages, each matched on its own index, ranked together.
    let mut rows_query = search_head(&whole, &prefix);
    rows_query.push("SELECT * FROM (");
    push_branch(&mut rows_query, Branch::Hot, false, scope, order);
    rows_query.push(" UNION ALL ");
    push_branch(&mut rows_query, Branch::Archived, false, scope, order);
    rows_query
        .push(") AS found ORDER BY rank DESC, created_at DESC LIMIT ")
        .push_bind(limit.max(0))
        .push(" OFFSET ")
        .push_bind(((page - 1).saturating_mul(limit)).max(0));
    let rows: Vec<MessageRow> = rows_query.build_query_as().fetch_all(pool).await?;

    let mut count_query = search_head(&whole, &prefix);
    count_query.push("SELECT (");
    push_branch(&mut count_query, Branch::Hot, true, scope, order);
    count_query.push(") + (");
    push_branch(&mut count_query, Branch::Archived, true, scope, order);
    count_query.push(")");
    let total: i64 = count_query.build_query_scalar().fetch_one(pool).await?;
    Ok(Page {
        items: rows.into_iter().map(Message::from).collect(),
        total,
    })
}

/// Adds the conditions that limit messages (aliased `m`) to one order and to what a
/// scope may see.
fn push_scope(query: &mut QueryBuilder<Postgres>, scope: &Scope, order: Option<&OrderId>) {
    if let Some(order) = order {
        query.push(" AND m.order_id = ").push_bind(order.as_str().to_owned());
    }
    if let Scope::ParticipantOf(user) = scope {
        query
            .push(" AND m.order_id IN (SELECT order_id FROM order_participants WHERE user_id = ")
            .push_bind(user.as_str().to_owned())
            .push(")");
    }
}

/// The start of a search query: `q`, the query the words make.
///
/// Each word goes to `websearch_to_tsquery` inside double quotes (see `quoted_words`),
/// so `or`, `-` and the like are plain text, and that function never fails on any
/// input. For the prefix word, the last lexeme of its query gets `:*` (`'gate'` becomes
/// `'gate':*`): the text form of a tsquery quotes every lexeme, so the rewrite is always
/// valid tsquery syntax. Config `orderchat_words`, as in the index (see the
/// migrations: `simple` — no stemming, no stop words, mixed languages — with accents
/// folded by `unaccent`).
fn search_head(whole: &str, prefix: &str) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::<Postgres>::new("WITH q AS (SELECT websearch_to_tsquery('orderchat_words', ");
    query
        .push_bind(whole.to_owned())
        .push(") && to_tsquery('orderchat_words', regexp_replace(websearch_to_tsquery('orderchat_words', ")
        .push_bind(prefix.to_owned())
        .push(")::text, '''$', ''':*')) AS query) ");
    query
}

/// Which table a branch of the search reads.
#[derive(Clone, Copy)]
enum Branch {
    Hot,
    Archived,
}

/// Messages `m` of one table that are not deleted and match `q`, in `scope` and
/// `order`: their columns and rank, or their count.
fn push_branch(
    query: &mut QueryBuilder<Postgres>,
    branch: Branch,
    count: bool,
    scope: &Scope,
    order: Option<&OrderId>,
) {
    query.push(match (branch, count) {
        (Branch::Hot, true) => "SELECT COUNT(*) FROM messages m",
        (Branch::Archived, true) => "SELECT COUNT(*) FROM archived_messages m",
        (Branch::Hot, false) => concat!(
            "SELECT ",
            message_columns!(),
            ", ts_rank(m.words, q.query) AS rank FROM ",
            messages_with_replies!()
        ),
        (Branch::Archived, false) => concat!(
            "SELECT ",
            message_columns!(),
            ", ts_rank(m.words, q.query) AS rank FROM ",
            archived_with_replies!()
        ),
    });
    query.push(", q WHERE m.words @@ q.query AND NOT m.deleted");
    push_scope(query, scope, order);
}

/// Words as `websearch_to_tsquery` phrases: each in double quotes (which a word cannot
/// escape, so any `"` inside is dropped), so nothing in them is an operator.
fn quoted_words<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(|word| format!("\"{}\"", word.replace('"', " ")))
        .collect::<Vec<_>>()
        .join(" ")
}
