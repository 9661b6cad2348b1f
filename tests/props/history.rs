//! History paging: `page`/`limit` or one `before`/`after` cursor, each within its
//! range; every other combination is `invalid_query`. What parses is also accepted
//! by the real store (no overflow at the edges).

use orderchat::chat::HistoryQuery;
use orderchat::store::HistoryWindow;
use proptest::prelude::*;

use crate::contract::check_refusal;
use crate::store::check_with_db;
use crate::strategies::edge_i64;

const MAX_LIMIT: i64 = 200;

#[test]
fn history_query_is_a_valid_window_or_refused() {
    let four = [(); 4].map(|()| prop::option::of(edge_i64()));
    check_with_db(file!(), 512, four, |[page, limit, before, after], db| {
        match HistoryQuery::parse(page, limit, before, after) {
            Ok(HistoryQuery(window)) => {
                let window_limit = match window {
                    HistoryWindow::Page { page: p, limit } => {
                        prop_assert!((1..=1_000_000).contains(&p));
                        prop_assert_eq!(p, page.unwrap_or(1));
                        prop_assert!(before.is_none() && after.is_none());
                        limit
                    }
                    HistoryWindow::Before { seq, limit } => {
                        prop_assert!(seq >= 1 && Some(seq) == before && after.is_none() && page.is_none());
                        limit
                    }
                    HistoryWindow::After { seq, limit } => {
                        prop_assert!(seq >= 0 && Some(seq) == after && before.is_none() && page.is_none());
                        limit
                    }
                };
                prop_assert!((1..=MAX_LIMIT).contains(&window_limit));
                prop_assert_eq!(window_limit, limit.unwrap_or(50));
                let stored = db.block_on(db.store.history(&db.order, window));
                prop_assert!(stored.is_ok(), "store refused {window:?}: {:?}", stored.err());
            }
            Err(err) => check_refusal(&err, &["invalid_query"])?,
        }
        Ok(())
    });
}
