//! What only the SQLite backend promises: its journal and sync settings.

use super::*;

/// SQLite only: its journal and sync settings.
#[tokio::test]
async fn every_connection_runs_in_wal_mode_with_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    // Hold several connections at once, so the pool must open more than one.
    let settings = futures::future::join_all((0..4).map(|_| store.durability())).await;
    let writer = store.writer_durability().await;
    for setting in settings.into_iter().chain([writer]) {
        let (journal, synchronous) = setting.unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "synchronous=FULL (NORMAL is 1, OFF is 0)");
    }
}
