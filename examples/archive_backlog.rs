//! Seeds a database with a backlog for the archive: `ORDERS` orders of `PER_ORDER`
//! messages each, written through the store (group commit) and then dated back to
//! 2020, so every one of them is due for the archive. Used by the archive benchmark
//! (BENCHMARKS.md, "Archiving under load"):
//!
//! ```sh
//! cargo run --release --example archive_backlog -- sqlite:///tmp/x/orderchat.db 200 1000
//! ```

use std::sync::Arc;

use futures::StreamExt;
use orderchat::domain::{MessageText, MessageType, MessageUser, NewMessage, OrderId, Participant, SenderType, UserId};
use orderchat::store::{OrderRecord, PostgresStore, SqliteStore, Store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: archive_backlog URL ORDERS PER_ORDER"))?;
    let orders: usize = args.next().unwrap_or_else(|| "200".into()).parse()?;
    let per_order: i64 = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(&url).await?)
    } else {
        Arc::new(PostgresStore::connect(&url).await?)
    };
    let author = MessageUser {
        id: UserId::parse("backlog-customer")?,
        name: Some("Backlog".into()),
        role: "customer".into(),
    };
    let started = std::time::Instant::now();
    for n in 0..orders {
        let id = OrderId::parse(&format!("backlog-{n:05}"))?;
        store
            .upsert_order(OrderRecord {
                id: id.clone(),
                number: None,
                status: Some("created".into()),
                participants: vec![
                    Participant {
                        user_id: author.id.clone(),
                        role: "customer".into(),
                        name: None,
                    },
                    Participant {
                        user_id: UserId::parse("backlog-driver")?,
                        role: "driver".into(),
                        name: None,
                    },
                ],
            })
            .await?;
        let messages = (0..per_order).map(|i| NewMessage {
            order_id: id.clone(),
            author: Some(author.clone()),
            text: MessageText::parse(&format!("backlog message {i} about parcel {n}"), 4000).expect("valid text"),
            message_type: MessageType::Text,
            sender_type: SenderType::User,
            reply_to: None,
            client_id: None,
            attachments: Vec::new(),
        });
        let mut commits = futures::stream::iter(messages.map(|m| store.insert_message(m))).buffer_unordered(512);
        while let Some(result) = commits.next().await {
            result?;
        }
        store
            .backdate_messages(&id, per_order, "2020-01-01T00:00:00.000Z")
            .await?;
    }
    store.close().await;
    println!(
        "seeded {} messages in {orders} orders in {:.1} s",
        orders as i64 * per_order,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
