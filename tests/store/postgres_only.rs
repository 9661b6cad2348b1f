//! What only the PostgreSQL backend promises: its writer commits with
//! `synchronous_commit=on` whatever the server's default, and survives losing its
//! connection.

use super::*;

/// Even on a server whose default is `off` (acks that a crash could take back), the
/// writer's connection commits with `on`.
#[tokio::test]
async fn the_writer_commits_with_synchronous_commit_on() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
        return;
    };
    let TestDb::Postgres { admin, name, url } = &db else {
        unreachable!("a PostgreSQL test database")
    };
    let mut connection = sqlx::PgConnection::connect(admin).await.unwrap();
    // The name is ours: a fixed prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET synchronous_commit = off"
    )))
    .execute(&mut connection)
    .await
    .unwrap();
    let store = PostgresStore::connect(url).await.unwrap();
    assert_eq!(store.writer_setting("synchronous_commit").await.unwrap(), "on");
    let mut plain = sqlx::PgConnection::connect(url).await.unwrap();
    let default: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut plain)
        .await
        .unwrap();
    assert_eq!(default, "off", "the test did change the server's default");
    drop(store);
    db.remove().await;
}

/// Every connection, the writer's and the pool's, plans each statement for its
/// parameters: a generic plan cached while a table was nearly empty would keep
/// sequential scans that grow with history (BENCHMARKS.md, "PostgreSQL").
#[tokio::test]
async fn every_connection_plans_statements_for_their_parameters() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
        return;
    };
    let TestDb::Postgres { url, .. } = &db else {
        unreachable!("a PostgreSQL test database")
    };
    let store = PostgresStore::connect(url).await.unwrap();
    assert_eq!(
        store.writer_setting("plan_cache_mode").await.unwrap(),
        "force_custom_plan"
    );
    assert_eq!(
        store.pool_setting("plan_cache_mode").await.unwrap(),
        "force_custom_plan"
    );
    let mut plain = sqlx::PgConnection::connect(url).await.unwrap();
    let default: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&mut plain)
        .await
        .unwrap();
    assert_eq!(
        default, "auto",
        "the server's own default, which the store must not keep"
    );
    drop(store);
    db.remove().await;
}

/// The database drops the store's idle connections (a restart, a failover, an admin):
/// the next sends are stored all the same, the writer and the pool reconnect by
/// themselves.
#[tokio::test]
async fn the_writer_reconnects_after_losing_its_connection() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: ORDERCHAT_TEST_DATABASE_URL is not set");
        return;
    };
    let store = db.node().await;
    add_order(&*store, "r", &["u"]).await;
    store.insert_message(text_from("u", "r", "before", None)).await.unwrap();

    let TestDb::Postgres { admin, name, .. } = &db else {
        unreachable!("a PostgreSQL test database")
    };
    let mut connection = sqlx::PgConnection::connect(admin).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "the store's connections were found");
    // Termination is asynchronous: wait until the server has really let them go.
    for _ in 0..100 {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut connection)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    for attempt in 0..3 {
        let sent = store
            .insert_message(text_from("u", "r", &format!("after {attempt}"), None))
            .await;
        assert!(sent.is_ok(), "attempt {attempt}: {sent:?}");
    }
    let history = store
        .history(&order("r"), HistoryWindow::After { seq: 0, limit: 10 })
        .await
        .unwrap();
    assert_eq!(history.items.len(), 4, "the pool reconnected too");
    db.remove().await;
}
