//! Full-text search, inside one order or across every order the caller may see.
//!
//! Users type words, not a query language: `q` is split into words (letters and digits,
//! with `'`, `-` and `_` inside a word) and handed to the store as `SearchTerms`, which
//! each backend quotes in its own syntax, so `"`, `*`, `OR`, `NEAR(`, column filters and
//! the like are matched as text and can never break or widen the query. The last word
//! matches as a prefix, so results appear while the user is still typing.

use super::ChatService;
use super::history::{parse_limit, parse_page};
use crate::access;
use crate::domain::{Identity, Message, OrderId};
use crate::error::{Error, Result};
use crate::store::{Page, SearchTerms};

const MAX_QUERY_CHARS: usize = 200;
const MAX_TERMS: usize = 16;

/// A validated search: the words to look for and the page wanted.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    terms: SearchTerms,
    page: i64,
    limit: i64,
}

impl SearchQuery {
    pub fn parse(q: Option<&str>, page: Option<i64>, limit: Option<i64>) -> Result<Self> {
        let q = q.map(str::trim).unwrap_or_default();
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::InvalidQuery(format!(
                "q must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let words = q
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-' && c != '_')
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .take(MAX_TERMS);
        let terms =
            SearchTerms::new(words).ok_or_else(|| Error::InvalidQuery("q must contain at least one word".into()))?;
        Ok(Self {
            terms,
            page: parse_page(page)?,
            limit: parse_limit(limit)?,
        })
    }

    /// The words handed to the store.
    pub fn terms(&self) -> &SearchTerms {
        &self.terms
    }

    pub fn page(&self) -> i64 {
        self.page
    }

    pub fn limit(&self) -> i64 {
        self.limit
    }
}

impl ChatService {
    pub async fn search_order(
        &self,
        identity: &Identity,
        order_id: &OrderId,
        query: &SearchQuery,
    ) -> Result<Page<Message>> {
        self.visible_order(identity, order_id).await?;
        self.store
            .search(
                &access::scope_of(identity),
                Some(order_id),
                &query.terms,
                query.page,
                query.limit,
            )
            .await
    }

    pub async fn search_all(&self, identity: &Identity, query: &SearchQuery) -> Result<Page<Message>> {
        self.store
            .search(&access::scope_of(identity), None, &query.terms, query.page, query.limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_words() {
        let q = SearchQuery::parse(Some("late \"delivery* OR NEAR(x"), None, None).unwrap();
        assert_eq!(q.terms().whole_words(), ["late", "delivery", "OR", "NEAR"]);
        assert_eq!(q.terms().prefix(), "x");
    }

    #[test]
    fn blank_or_symbol_only_queries_are_refused() {
        assert_eq!(
            SearchQuery::parse(Some("  "), None, None).unwrap_err().code(),
            "invalid_query"
        );
        assert_eq!(
            SearchQuery::parse(Some("*** \"\""), None, None).unwrap_err().code(),
            "invalid_query"
        );
        assert_eq!(
            SearchQuery::parse(None, None, None).unwrap_err().code(),
            "invalid_query"
        );
    }
}
