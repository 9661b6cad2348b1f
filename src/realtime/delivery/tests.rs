//! The lines of `delivery.rs` on a Socket.IO server without connections: where joins
//! stand, what is held, gaps filled from a real SQLite store.

use socketioxide::extract::SocketRef;

use super::*;

fn frame(seq: Seq) -> Incoming<'static> {
    let raw = RawValue::from_string(format!(r#"{{"seq":{seq}}}"#)).unwrap();
    Incoming::Frame(Frame::Encoded(raw))
}

struct Node {
    io: SocketIo,
    health: AdapterHealth,
    deliveries: Deliveries,
    order: OrderId,
}

impl Node {
    fn new() -> Self {
        let (_service, io) = SocketIo::new_svc();
        io.ns("/", async |_: SocketRef| {});
        Self {
            io,
            health: AdapterHealth::default(),
            deliveries: Deliveries::default(),
            order: OrderId::parse("o").unwrap(),
        }
    }

    fn room(&self) -> BroadcastOperators<socketioxide::adapter::LocalAdapter> {
        namespace(&self.io).unwrap().local().within(self.order.room())
    }

    async fn deliver(&self, seq: Seq) {
        self.deliveries
            .deliver(self.room(), &self.health, &self.order, seq, frame(seq))
            .await;
    }

    async fn join(&self) -> Option<Entered> {
        self.deliveries.enter(&self.order, || true).await
    }

    async fn start(&self, line: StartingLine, last_seq: Seq) -> Seq {
        self.deliveries
            .start(self.room(), &self.health, &self.order, line, last_seq)
            .await
    }

    async fn delivered(&self) -> Option<Seq> {
        self.deliveries.delivered(&self.order).await
    }
}

#[tokio::test]
async fn an_order_nobody_here_has_joined_costs_nothing() {
    let node = Node::new();
    node.deliver(1).await;
    assert_eq!(node.deliveries.lines(), 0);
}

#[tokio::test]
async fn a_join_knows_where_its_catch_up_ends_and_live_delivery_begins() {
    let node = Node::new();
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!("the first join did not start the line");
    };
    // Arrivals before the start is known wait.
    node.deliver(3).await;
    node.deliver(4).await;
    assert_eq!(node.delivered().await, None);
    // The join read 3 as the last committed seq: its catch-up has up to 3, 4 goes live.
    assert_eq!(node.start(line, 3).await, 3);
    assert_eq!(node.delivered().await, Some(4));

    // A later join catches up to exactly what the room has had.
    let Some(Entered::CaughtUpTo(seq)) = node.join().await else {
        panic!("a join of a started line did not get its catch-up point");
    };
    assert_eq!(seq, 4);
    // A connection already in the room gets no new point.
    assert!(node.deliveries.enter(&node.order, || false).await.is_none());

    // Out of order: 6 waits for 5.
    node.deliver(6).await;
    assert_eq!(node.delivered().await, Some(4));
    node.deliver(5).await;
    assert_eq!(node.delivered().await, Some(6));
    node.deliver(5).await;
    assert_eq!(node.delivered().await, Some(6), "a duplicate moved the line");
}

#[tokio::test]
async fn joins_while_the_line_starts_share_the_first_start() {
    let node = Node::new();
    let (Some(Entered::Starting(first)), Some(Entered::Starting(second))) = (node.join().await, node.join().await)
    else {
        panic!("joins before the start is known must each be told to start it");
    };
    assert_eq!(node.start(first, 10).await, 10);
    // The second read later (12), but it has been in the room since before 11 went out.
    assert_eq!(node.start(second, 12).await, 10);
    assert_eq!(node.delivered().await, Some(10));
}

#[tokio::test]
async fn a_line_whose_room_emptied_is_forgotten_and_a_new_join_starts_afresh() {
    let node = Node::new();
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!()
    };
    node.start(line, 2).await;
    node.deliveries.sweep(|_| false);
    assert_eq!(node.deliveries.lines(), 1, "a line with connections was forgotten");
    node.deliveries.sweep(|_| true);
    assert_eq!(node.deliveries.lines(), 0);
    node.deliver(3).await;
    assert!(matches!(node.join().await, Some(Entered::Starting(_))));
}

/// A chat service on a fresh SQLite file with one order holding `stored` messages.
async fn chat_with_messages(dir: &std::path::Path, order: &OrderId, stored: usize) -> ChatService {
    use clap::Parser;

    use crate::chat::{Broadcaster, Event};
    use crate::config::Limits;
    use crate::domain::{MessageText, MessageType, NewMessage, SenderType, UserId};
    use crate::shutdown::Shutdown;
    use crate::store::{OrderRecord, SqliteStore, Store};

    struct Nobody;
    #[async_trait::async_trait]
    impl Broadcaster for Nobody {
        async fn publish(&self, _: Event) {}
        async fn new_message(&self, _: &Message, answer: crate::chat::Answer) {
            answer();
        }
        fn is_online(&self, _: &UserId) -> bool {
            false
        }
        async fn viewers(&self, _: &OrderId) -> Option<std::collections::HashSet<UserId>> {
            Some(std::collections::HashSet::new())
        }
    }
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
        #[command(flatten)]
        attachments: crate::config::AttachmentSettings,
    }

    let url = format!("sqlite://{}", dir.join("chat.db").display());
    let store = SqliteStore::open(&url, None, 64).await.unwrap();
    let record = OrderRecord {
        id: order.clone(),
        number: None,
        status: None,
        participants: Vec::new(),
    };
    store.upsert_order(record).await.unwrap();
    for n in 0..stored {
        let message = NewMessage {
            order_id: order.clone(),
            author: None,
            text: MessageText::system(format!("stored {n}")),
            message_type: MessageType::System,
            sender_type: SenderType::System,
            reply_to: None,
            client_id: None,
            attachments: Vec::new(),
        };
        store.insert_message(message).await.unwrap();
    }
    let settings = Cli::parse_from(["test"]);
    let storage =
        crate::attachments::ObjectStorage::from_url(&format!("file://{}", dir.join("files").display())).unwrap();
    let files = crate::chat::Files::new(storage, &settings.attachments);
    ChatService::new(
        Arc::new(store),
        Arc::new(Nobody),
        files,
        &settings.limits,
        &[],
        Shutdown::default(),
    )
}

#[tokio::test]
async fn a_gap_that_stays_open_is_filled_from_the_store_and_what_it_lacks_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::new();
    let chat = chat_with_messages(dir.path(), &node.order, 5).await;
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!()
    };
    node.start(line, 0).await;

    // 1 and 2 never come (their node died before publishing): 3 waits for them.
    node.deliver(3).await;
    node.deliveries.fill_gaps(&node.io, &node.health, &chat).await;
    assert_eq!(
        node.delivered().await,
        Some(0),
        "the store was read before the gap had waited"
    );
    tokio::time::sleep(GAP_WAIT + Duration::from_millis(50)).await;
    node.deliveries.fill_gaps(&node.io, &node.health, &chat).await;
    assert_eq!(node.delivered().await, Some(3), "1 and 2 were not read from the store");

    // The store has 4 and 5 but not 6 and 7 (gone): 8 goes out after a skip.
    node.deliver(8).await;
    tokio::time::sleep(GAP_WAIT + Duration::from_millis(50)).await;
    node.deliveries.fill_gaps(&node.io, &node.health, &chat).await;
    assert_eq!(node.delivered().await, Some(8));
    assert!(
        node.deliveries.gapped.lock().unwrap().is_empty(),
        "a closed gap is still watched"
    );
}

#[tokio::test]
async fn a_line_behind_a_joining_client_is_brought_up_from_the_store_before_it_joins() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::new();
    let chat = chat_with_messages(dir.path(), &node.order, 3).await;
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!()
    };
    node.start(line, 0).await;

    // A client had up to 2 on another node; this node's line has delivered nothing.
    assert_eq!(node.deliveries.behind(&node.order, 2).await, Some(0));
    let stored = chat.committed_after(&node.order, 0, 2).await.unwrap();
    node.deliveries
        .bring_up(node.room(), &node.health, &node.order, stored)
        .await;
    assert_eq!(node.deliveries.behind(&node.order, 2).await, None);
    let Some(Entered::CaughtUpTo(seq)) = node.join().await else {
        panic!()
    };
    assert_eq!(seq, 2, "the client would get 1 and 2 again");
}

impl Node {
    async fn change(&self, seq: Seq) {
        let raw = RawValue::from_string(format!(r#"{{"seq":{seq},"deleted":true}}"#)).unwrap();
        self.deliveries
            .change(
                self.room(),
                &self.health,
                &self.order,
                seq,
                "message-deleted",
                Frame::Encoded(raw),
            )
            .await;
    }

    /// The seqs of the changes the order's line holds back, in arrival order.
    async fn held_changes(&self) -> Vec<Seq> {
        let line = self.deliveries.lines.get(&self.order).unwrap().clone();
        let line = line.lock().await;
        line.changes.iter().map(|change| change.seq).collect()
    }
}

#[tokio::test]
async fn a_change_waits_in_the_line_until_its_message_has_gone_out() {
    let node = Node::new();
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!()
    };
    // Before the start is known: held; a change to a message in the joiner's catch-up
    // (up to the start) is dropped at the start, one to a later message waits.
    node.change(2).await;
    node.change(4).await;
    assert_eq!(node.held_changes().await, [2, 4]);
    node.start(line, 2).await;
    assert_eq!(node.held_changes().await, [4]);

    // 4 arrives ahead of 3 (held behind the gap): its change still waits.
    node.deliver(4).await;
    node.change(4).await;
    assert_eq!(node.held_changes().await, [4, 4]);
    node.deliver(3).await;
    assert_eq!(node.delivered().await, Some(4));
    assert_eq!(
        node.held_changes().await,
        Vec::<Seq>::new(),
        "released with their message"
    );

    // A change to a message already delivered goes out at once.
    node.change(3).await;
    assert_eq!(node.held_changes().await, Vec::<Seq>::new());
}

#[tokio::test]
async fn after_an_outage_a_line_behind_the_store_is_filled_without_a_later_message() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::new();
    let chat = chat_with_messages(dir.path(), &node.order, 3).await;
    let Some(Entered::Starting(line)) = node.join().await else {
        panic!()
    };
    node.start(line, 1).await;
    // 2 and 3 were committed on another node while Redis was down: nothing arrives.
    node.deliveries.fill_gaps(&node.io, &node.health, &chat).await;
    assert_eq!(node.delivered().await, Some(1));

    // 3 was edited meanwhile; the change came through once Redis was back.
    node.change(3).await;
    assert_eq!(
        node.deliveries.recheck(&chat).await.unwrap(),
        1,
        "the line behind was not found"
    );
    node.deliveries.fill_gaps(&node.io, &node.health, &chat).await;
    assert_eq!(
        node.delivered().await,
        Some(3),
        "2 and 3 were not read from the store at once"
    );
    assert_eq!(node.held_changes().await, Vec::<Seq>::new());
    assert!(
        node.deliveries.gapped.lock().unwrap().is_empty(),
        "a closed gap is still watched"
    );

    // Up to date: nothing to do.
    assert_eq!(node.deliveries.recheck(&chat).await.unwrap(), 0);
}
