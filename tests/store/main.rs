//! The storage contract, tested through the `Store` trait only, so every backend is held
//! to the same behaviour: each test below runs against SQLite and, when
//! `ORDERCHAT_TEST_DATABASE_URL` names a PostgreSQL server where the test may create
//! databases (`scripts/postgres start` prints one; `scripts/test` sets it), against
//! PostgreSQL too, each time on a database of its own. Focus: what the group-commit
//! writer must guarantee under concurrency, also with several processes ("nodes")
//! writing one database. Tests of one backend's own promises stay with that backend
//! (`sqlite_only`, `postgres_only`).

use std::sync::Arc;

use orderchat::domain::{
    ClientId, MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId,
};
use orderchat::error::Error;
use orderchat::store::{
    DEFAULT_WRITE_QUEUE, HistoryWindow, OrderRecord, PostgresStore, Scope, SearchTerms, SqliteStore, Store,
};
use sqlx::Connection;
use tempfile::TempDir;

mod archive;
mod attachments;
mod messages;
mod notifications;
mod orders;
mod postgres_only;
mod push_outbox;
mod reactions;
mod replies;
mod search;
mod sqlite_only;
mod stats;
mod unread;
mod writer;

/// Runs each named test (an `async fn(&TestDb)` in one of the modules) once per backend:
/// `sqlite::<name>` and `postgres::<name>`. Without `ORDERCHAT_TEST_DATABASE_URL` the
/// PostgreSQL runs say they were skipped and pass.
macro_rules! on_every_backend {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::sqlite();
                    super::$module::$name(&db).await;
                    db.remove().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres().await else {
                        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
                        return;
                    };
                    super::$module::$name(&db).await;
                    db.remove().await;
                }
            )*
        }
    };
}

on_every_backend!(
    writer::concurrent_inserts_get_gapless_seqs_per_order,
    writer::one_bad_message_in_a_batch_does_not_sink_the_others,
    writer::the_same_client_id_stored_concurrently_is_stored_once,
    writer::an_acknowledged_message_is_there_after_reopening,
    writer::a_full_write_queue_refuses_new_messages_cleanly,
    writer::twenty_nodes_writing_one_order_get_seqs_one_to_n,
    writer::the_same_client_id_from_two_nodes_is_stored_once,
    unread::unread_counts_skip_own_and_deleted_messages,
    unread::unread_counters_agree_with_a_recount_after_any_mix_of_writes,
    orders::orders_are_created_updated_and_found_by_participant,
    orders::the_chat_list_shows_recent_activity_first_with_unread_counts,
    orders::last_seqs_of_many_orders_come_in_one_read,
    orders::mutes_are_per_user_and_order_and_idempotent,
    messages::history_windows_are_seq_ranges_with_their_counts,
    messages::edits_and_deletions_change_the_stored_message,
    messages::ids_that_cannot_exist_are_not_found,
    reactions::reactions_are_one_per_user_per_emoji_and_idempotent,
    reactions::the_reaction_summary_comes_with_every_read,
    reactions::a_message_takes_a_limited_number_of_distinct_emojis,
    reactions::deleting_a_message_clears_its_reactions_and_refuses_new_ones,
    reactions::concurrent_reactions_from_two_nodes_are_all_counted,
    replies::a_reply_carries_a_preview_of_the_quoted_message_on_every_read,
    replies::a_quote_follows_edits_and_hides_the_text_once_deleted,
    replies::the_replies_to_a_message_come_in_seq_order_by_cursor,
    search::search_respects_scope_and_order,
    search::search_keeps_orders_whose_ids_share_tokens_apart,
    search::search_matches_every_word_and_the_last_as_a_prefix,
    search::search_takes_any_words_without_failing,
    search::search_ignores_case_and_accents,
    stats::stats_count_by_sender_and_take_the_median_staff_first_response,
    stats::stats_take_the_mean_of_the_two_middle_waits_and_are_empty_without_messages,
    attachments::uploads_are_recorded_and_counted_for_the_quota,
    attachments::a_message_takes_its_uploads_once_and_only_its_authors_in_its_order,
    attachments::messages_racing_for_one_upload_give_it_to_one,
    attachments::unreferenced_uploads_and_a_deleted_messages_uploads_are_deleted,
    push_outbox::a_burst_coalesces_into_one_unsent_entry_per_user_and_order,
    push_outbox::an_attempted_entry_is_frozen_and_the_next_waits_for_it,
    push_outbox::a_claim_is_a_lease_that_no_other_node_gets,
    push_outbox::failed_pushes_retry_at_their_time_and_die_past_the_maximum_age,
    notifications::new_messages_coalesce_in_place_until_read,
    notifications::one_call_stores_the_rows_of_several_orders_and_coalesces_each,
    notifications::cursor_pages_stay_stable_when_a_row_moves_up,
    notifications::read_marking_by_ids_touches_only_the_callers_and_by_position_the_older,
    notifications::expiry_deletes_only_rows_older_than_the_cutoff,
    archive::old_messages_move_and_stay_readable_through_the_archive,
    archive::orders_closed_long_enough_move_whole,
    archive::a_dry_run_reports_and_changes_nothing,
    archive::a_batch_moves_at_most_its_limit,
    archive::unread_counts_and_read_pointers_are_unchanged_by_a_move,
);

/// One fresh database for one test, of either backend. `node()` opens another store on
/// it, as another server process would.
enum TestDb {
    Sqlite { url: String, _dir: TempDir },
    Postgres { url: String, admin: String, name: String },
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb::Sqlite { url, _dir: dir }
    }

    /// A new database on the server of `ORDERCHAT_TEST_DATABASE_URL`, if set.
    async fn postgres() -> Option<Self> {
        let admin = std::env::var("ORDERCHAT_TEST_DATABASE_URL").ok()?;
        let name = format!("orderchat_test_{}", uuid::Uuid::now_v7().simple());
        let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
        // The name is ours: a fixed prefix and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        let url = with_database(&admin, &name);
        Some(TestDb::Postgres { url, admin, name })
    }

    /// A store on this database, as one node opens it.
    async fn node(&self) -> Arc<dyn Store> {
        self.node_with_queue(DEFAULT_WRITE_QUEUE).await
    }

    async fn node_with_queue(&self, write_queue: usize) -> Arc<dyn Store> {
        match self {
            TestDb::Sqlite { url, .. } => Arc::new(SqliteStore::open(url, None, write_queue).await.unwrap()),
            TestDb::Postgres { url, .. } => Arc::new(PostgresStore::open(url, None, write_queue).await.unwrap()),
        }
    }

    /// Runs one statement on the database directly, past the store: for what the store
    /// does not write yet (attachments) or writes from the clock (timestamps).
    async fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite { url, .. } => {
                let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            TestDb::Postgres { url, .. } => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }

    /// Drops a PostgreSQL test database (SQLite's goes with its directory).
    async fn remove(self) {
        if let TestDb::Postgres { admin, name, .. } = self {
            let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut connection)
            .await
            .unwrap();
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn order(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
}

fn words(words: &[&str]) -> SearchTerms {
    SearchTerms::new(words.iter().copied()).unwrap()
}

async fn add_order(store: &dyn Store, id: &str, users: &[&str]) {
    let participants = users
        .iter()
        .map(|u| Participant {
            user_id: user(u),
            role: "driver".into(),
            name: None,
        })
        .collect();
    store
        .upsert_order(OrderRecord {
            id: order(id),
            number: None,
            status: None,
            participants,
        })
        .await
        .unwrap();
}

fn text_from(author: &str, order_id: &str, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        order_id: order(order_id),
        author: Some(MessageUser {
            id: user(author),
            name: None,
            role: "driver".into(),
        }),
        text: MessageText::parse(text, 4000).unwrap(),
        message_type: MessageType::Text,
        sender_type: SenderType::User,
        reply_to: None,
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
        attachments: Vec::new(),
    }
}
