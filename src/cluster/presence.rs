//! Cluster-wide presence and connections per user, kept in Redis (several nodes only).
//!
//! Each node keeps counting its own connections per user in memory (`realtime::Presence`);
//! this module mirrors those counts into Redis so that the nodes agree on who is online:
//!
//! - `orderchat:presence:user:<user>`: hash, node id → that node's connection count
//!   for the user. The user is online while the hash has a field.
//! - `orderchat:presence:node:<node>`: set of the users a node holds, to clean up
//!   after a node that died.
//! - `orderchat:presence:nodes`: sorted set, node id → expiry of its heartbeat (ms,
//!   Redis' own clock, so the nodes' clocks need not agree).
//! - `orderchat:presence:online`: set of the users online anywhere, published on the
//!   channel [`PRESENCE_CHANNEL`] as `+user` / `-user` whenever it changes.
//!
//! **One event per real change.** A node writes a user's count whenever its local count
//! changes (connect, disconnect), always the absolute value, through one Lua script that
//! decides whether the hash went from empty to non-empty (came online) or back (went
//! offline) and, if so, updates the online set and publishes `+user` / `-user`. Redis
//! runs scripts one at a time, so each change is decided and published exactly once; a
//! second device on another node, or one of two devices leaving, changes a count and
//! nothing else. The same script checks the per-user connection limit against the
//! counts of the nodes that are alive, before it writes: two nodes admitting at once
//! cannot both pass the last seat.
//!
//! **Who announces.** Every node hears the presence channel and announces each change
//! to its own connections (`presence` to the user's order rooms, this node only). Pub/sub
//! delivers the channel in one order to every node, so every watcher gets one event per
//! change, in the order Redis decided them, even when a user's last connection closes
//! on one node and a new one opens on another within a millisecond. (If one node
//! announced for all, two nodes' announcements could cross on the way.)
//!
//! **Ordering.** One task per node (the worker) sends every write in the order the local
//! counts changed (they are queued under the local count's lock), so Redis always ends
//! at the node's current count, and a resync can simply write every count again.
//!
//! **A node that dies** stops its heartbeat (every `heartbeat`, expiry `expiry`). At its
//! own heartbeat each node sweeps the nodes whose expiry has passed, in the same script:
//! it removes their fields, and the users whose hash becomes empty went offline (published
//! like any other change). A node that stops cleanly expires its own heartbeat
//! (`goodbye`), so its users are swept at the others' next heartbeat.
//!
//! **Who is online, on the hot path.** `is_online` is a lookup in this node's copy of
//! the online set, filled from Redis when the presence channel is (re)subscribed and kept
//! fresh by its messages: no Redis round trip per message. A connection opened on another
//! node a few milliseconds ago may not be in the copy yet.
//!
//! **Redis down.** A write that fails marks the node out of sync: later writes are not
//! tried (connects and disconnects do not wait on a dead Redis), limits and presence
//! events fall back to this node's own counts (the node announces its own users'
//! changes itself, to its own connections, as every broadcast then goes), and the copy
//! of the online set is not trusted (`is_synced`). The next heartbeat that reaches Redis
//! rewrites all of this node's counts and removes what it no longer holds (published
//! like any change). The listener, subscribed again, reloads the online set and
//! announces how it differs from its copy, so an outage may repeat an event, never lose
//! one; users missing from that first load are announced offline only if a second load,
//! one heartbeat expiry later, still lacks them (a Redis that lost its data is empty
//! until every node has written its counts back, and the users who stayed connected
//! meanwhile must not flicker offline and online). The same resync runs when the heartbeat finds this node missing (Redis lost its
//! data, or the node was swept as dead after a long pause).
//!
//! The scripts touch keys they compute (a dead node's users), so this needs one Redis
//! server (or a primary with replicas), not a Redis Cluster.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashmap::DashSet;
use futures::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::REDIS_TIMEOUT;
use crate::domain::UserId;

/// The channel on which the online set's changes are published (`+user`, `-user`).
pub const PRESENCE_CHANNEL: &str = "orderchat-presence";

const PREFIX: &str = "orderchat:presence:";
const NODES_KEY: &str = "orderchat:presence:nodes";
const ONLINE_KEY: &str = "orderchat:presence:online";

/// Writes one node's count for one user (0 removes it), after checking the limit
/// against the live nodes' counts when a limit is given. Returns `{admitted, change}`,
/// change 1 = came online, -1 = went offline, 0 = neither.
const SET_SCRIPT: &str = include_str!("lua/presence_set.lua");

/// Refreshes this node's heartbeat and sweeps nodes whose heartbeat expired. Returns
/// `{was this node known, [users who went offline]}`.
const HEARTBEAT_SCRIPT: &str = include_str!("lua/presence_heartbeat.lua");

/// Makes Redis hold exactly this node's counts (ARGV[4..]: user, count pairs). Returns
/// `{[users who came online], [users who went offline]}`.
const RESYNC_SCRIPT: &str = include_str!("lua/presence_resync.lua");

/// What a write of a user's count did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written; whether the user's cluster-wide presence changed.
    Written(Change),
    /// Not written: the user holds `limit` connections on the live nodes already.
    OverLimit,
    /// Redis could not be asked: decide on this node's counts alone.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    CameOnline,
    WentOffline,
    None,
}

impl Change {
    fn from_code(code: i64) -> Self {
        match code {
            1 => Self::CameOnline,
            -1 => Self::WentOffline,
            _ => Self::None,
        }
    }
}

/// A change of the online set (user, online now), for this node to announce to its own
/// connections.
pub type Announcement = (UserId, bool);

/// This node's counts per user, read when Redis must be told all of them again.
pub type Snapshot = Box<dyn Fn() -> Vec<(UserId, usize)> + Send + Sync>;

enum Command {
    Set {
        user: UserId,
        count: usize,
        limit: Option<usize>,
        reply: Option<oneshot::Sender<Outcome>>,
    },
    Goodbye(oneshot::Sender<()>),
}

/// This node's side of cluster-wide presence: the queue to the worker and the copy of
/// the online set.
pub struct ClusterPresence {
    node: String,
    client: redis::Client,
    conn: ConnectionManager,
    commands: mpsc::UnboundedSender<Command>,
    queue: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    online: DashSet<UserId>,
    /// The copy of the online set follows Redis (subscribed and loaded).
    synced: AtomicBool,
    heartbeat: Duration,
    expiry: Duration,
}

impl ClusterPresence {
    pub(super) fn new(
        node: String,
        client: redis::Client,
        conn: ConnectionManager,
        heartbeat: Duration,
        expiry: Duration,
    ) -> Self {
        let (commands, queue) = mpsc::unbounded_channel();
        Self {
            node,
            client,
            conn,
            commands,
            queue: std::sync::Mutex::new(Some(queue)),
            online: DashSet::new(),
            synced: AtomicBool::new(false),
            heartbeat,
            expiry,
        }
    }

    /// Queues the write of this node's count of `user`'s connections (in the order of
    /// the calls). With `limit`, the write is refused if the user's connections on the
    /// live nodes would exceed it. Call it while holding the lock of the local count, so
    /// the writes reach Redis in the order the count changed.
    pub fn set(&self, user: &UserId, count: usize, limit: Option<usize>) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        self.send(user, count, limit, Some(reply));
        outcome
    }

    /// Like `set`, without waiting for the outcome (nobody is told of a change).
    pub fn set_quietly(&self, user: &UserId, count: usize) {
        self.send(user, count, None, None);
    }

    fn send(&self, user: &UserId, count: usize, limit: Option<usize>, reply: Option<oneshot::Sender<Outcome>>) {
        let command = Command::Set {
            user: user.clone(),
            count,
            limit,
            reply,
        };
        // Fails only once the worker stopped at shutdown; the dropped reply then says
        // `Unavailable` to whoever waits.
        let _ = self.commands.send(command);
    }

    /// Whether `user` has a connection on some node, as far as this node's copy of the
    /// online set knows (no Redis round trip).
    pub fn is_online(&self, user: &UserId) -> bool {
        self.online.contains(user)
    }

    /// Whether the copy of the online set follows Redis right now.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Expires this node's heartbeat at shutdown, after its connections closed: the
    /// other nodes announce its users offline at their next sweep. Bounded by the Redis
    /// timeout; the worker stops after it.
    pub async fn goodbye(&self) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Goodbye(done)).is_ok() {
            let _ = tokio::time::timeout(REDIS_TIMEOUT * 2, finished).await;
        }
    }

    /// Starts the worker (writes, heartbeat, sweeps, resyncs) and the listener that keeps
    /// the copy of the online set. Every change of the online set comes out of the
    /// returned receiver, in the order Redis made them, for this node to announce to its
    /// own connections.
    pub fn spawn(self: &Arc<Self>, snapshot: Snapshot) -> (Vec<JoinHandle<()>>, mpsc::UnboundedReceiver<Announcement>) {
        let (announce, announcements) = mpsc::unbounded_channel();
        let mut tasks = vec![tokio::spawn(self.clone().listen(announce))];
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(queue) = queue {
            let worker = Worker {
                presence: self.clone(),
                conn: self.conn.clone(),
                snapshot,
                out_of_sync: false,
            };
            tasks.push(tokio::spawn(worker.run(queue)));
        }
        (tasks, announcements)
    }

    /// Subscribes to the presence channel, loads the online set, then applies its
    /// changes, handing each to `announce`; on a lost subscription, starts over (the
    /// copy is untrusted meanwhile) and, once loaded again, announces what changed while
    /// it was away.
    ///
    /// Back after an outage, the set may be missing users who are still connected: if
    /// Redis lost its data, each node writes its connections back at its next heartbeat
    /// (`resync`), and this load may come first. So users missing from it stay in the
    /// copy, unannounced, for one heartbeat expiry (by then every live node has written
    /// its counts again, or counts as dead); a second load then announces those still
    /// missing as offline. Users who came online are announced at once.
    async fn listen(self: Arc<Self>, announce: mpsc::UnboundedSender<Announcement>) {
        let mut lost = false;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(PRESENCE_CHANNEL).await {
                    Ok(()) => {
                        let mut changes = pubsub.into_on_message();
                        // Subscribed first, loaded second: a change between the two is
                        // both in the set and queued, and applying it again is harmless.
                        match self.load_online(Missing::Keep).await {
                            Ok(changed) => {
                                self.synced.store(true, Ordering::Release);
                                // After an outage: the second load, one expiry later.
                                let recheck = tokio::time::sleep(self.expiry);
                                tokio::pin!(recheck);
                                let mut rechecked = !lost;
                                if lost {
                                    // At the first load there is no connection to tell.
                                    tracing::info!(changed = changed.len(), "cluster presence followed again");
                                    for change in changed {
                                        let _ = announce.send(change);
                                    }
                                }
                                lost = false;
                                loop {
                                    tokio::select! {
                                        message = changes.next() => {
                                            let Some(message) = message else { break };
                                            if let Some(change) = apply(&self.online, message.get_payload_bytes()) {
                                                let _ = announce.send(change);
                                            }
                                        }
                                        () = &mut recheck, if !rechecked => {
                                            rechecked = true;
                                            match self.load_online(Missing::Drop).await {
                                                Ok(changed) => {
                                                    for change in changed {
                                                        let _ = announce.send(change);
                                                    }
                                                }
                                                Err(err) => {
                                                    tracing::debug!(error = %err, "loading the online set again failed");
                                                    break;
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            Err(err) => tracing::debug!(error = %err, "loading the online set failed"),
                        }
                    }
                    Err(err) => tracing::debug!(error = %err, "subscribing to presence changes failed"),
                },
                Err(err) => tracing::debug!(error = %err, "connecting to Redis for presence changes failed"),
            }
            self.synced.store(false, Ordering::Release);
            if !lost {
                metrics::counter!("orderchat_cluster_errors_total", "kind" => "presence").increment(1);
                tracing::error!("lost Redis: presence falls back to this node's own connections until it is back");
            }
            lost = true;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Loads Redis' online set into the copy; returns the differences. Users of the copy
    /// missing from the set are dropped (and returned as offline) or, with
    /// [`Missing::Keep`], kept for a later load to decide.
    async fn load_online(&self, missing: Missing) -> redis::RedisResult<Vec<Announcement>> {
        let mut conn = self.conn.clone();
        let command = redis::cmd("SMEMBERS").arg(ONLINE_KEY).to_owned();
        let members = command.query_async::<Vec<String>>(&mut conn);
        let members = match tokio::time::timeout(REDIS_TIMEOUT * 2, members).await {
            Ok(members) => members?,
            Err(_) => {
                return Err(redis::RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
        };
        let members: std::collections::HashSet<UserId> =
            members.iter().filter_map(|user| UserId::parse(user).ok()).collect();
        let mut changed: Vec<Announcement> = Vec::new();
        if missing == Missing::Drop {
            self.online.retain(|user| {
                let stays = members.contains(user);
                if !stays {
                    changed.push((user.clone(), false));
                }
                stays
            });
        }
        for user in members {
            if self.online.insert(user.clone()) {
                changed.push((user, true));
            }
        }
        Ok(changed)
    }
}

/// What [`ClusterPresence::load_online`] does with users of the copy that Redis' online
/// set lacks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// Keeps them for a later load (the nodes may not have written their counts back).
    Keep,
    /// Drops them: they went offline.
    Drop,
}

/// Applies one message of the presence channel (`+user` / `-user`) to the copy; returns
/// the change if it was one for the copy (a message the load already saw is not).
fn apply(online: &DashSet<UserId>, payload: &[u8]) -> Option<Announcement> {
    let text = std::str::from_utf8(payload).ok()?;
    let (came, user) = match text.split_at_checked(1) {
        Some(("+", user)) => (true, user),
        Some(("-", user)) => (false, user),
        _ => return None,
    };
    let user = UserId::parse(user).ok()?;
    let changed = if came {
        online.insert(user.clone())
    } else {
        online.remove(&user).is_some()
    };
    changed.then_some((user, came))
}

/// The one task that talks to Redis for this node's presence, so its writes keep the
/// order in which the local counts changed.
struct Worker {
    presence: Arc<ClusterPresence>,
    conn: ConnectionManager,
    snapshot: Snapshot,
    /// A write may be missing in Redis: stop trying until a heartbeat resyncs.
    out_of_sync: bool,
}

impl Worker {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Command>) {
        let period = self.presence.heartbeat;
        let mut next_heartbeat = Instant::now();
        loop {
            // Due even while writes keep coming (a reconnect storm must not make this
            // node look dead). A resync between queued writes is still right in the end:
            // the last write of each user carries its current count.
            if Instant::now() >= next_heartbeat {
                self.heartbeat().await;
                next_heartbeat = Instant::now() + period;
            }
            match tokio::time::timeout_at(next_heartbeat, queue.recv()).await {
                Ok(Some(Command::Set {
                    user,
                    count,
                    limit,
                    reply,
                })) => {
                    let outcome = self.set(&user, count, limit).await;
                    if let Some(reply) = reply {
                        let _ = reply.send(outcome);
                    }
                }
                Ok(Some(Command::Goodbye(done))) => {
                    self.goodbye().await;
                    let _ = done.send(());
                    return;
                }
                Ok(None) => return,
                Err(_) => {} // the heartbeat is due
            }
        }
    }

    async fn set(&mut self, user: &UserId, count: usize, limit: Option<usize>) -> Outcome {
        if self.out_of_sync {
            return Outcome::Unavailable;
        }
        let node = &self.presence.node;
        let mut invocation = redis::cmd("EVAL");
        invocation
            .arg(SET_SCRIPT)
            .arg(4)
            .arg(format!("{PREFIX}user:{user}"))
            .arg(format!("{PREFIX}node:{node}"))
            .arg(ONLINE_KEY)
            .arg(NODES_KEY)
            .arg(node)
            .arg(user.as_str())
            .arg(count)
            .arg(limit.unwrap_or(0))
            .arg(PRESENCE_CHANNEL);
        match self.query::<(i64, i64)>(&invocation).await {
            Ok((1, change)) => Outcome::Written(Change::from_code(change)),
            Ok(_) => Outcome::OverLimit,
            Err(err) => {
                self.lost(&err);
                Outcome::Unavailable
            }
        }
    }

    async fn heartbeat(&mut self) {
        let expiry_ms = self.presence.expiry.as_millis() as u64;
        let mut invocation = redis::cmd("EVAL");
        invocation
            .arg(HEARTBEAT_SCRIPT)
            .arg(2)
            .arg(NODES_KEY)
            .arg(ONLINE_KEY)
            .arg(&self.presence.node)
            .arg(expiry_ms)
            .arg(PRESENCE_CHANNEL)
            .arg(PREFIX);
        let (known, offline) = match self.query::<(i64, Vec<String>)>(&invocation).await {
            Ok(reply) => reply,
            Err(err) => {
                self.lost(&err);
                return;
            }
        };
        if !offline.is_empty() {
            // Every node announces them to its connections, from the presence channel.
            tracing::info!(
                users = offline.len(),
                "a node stopped answering: its users went offline"
            );
        }
        if known == 0 || self.out_of_sync {
            self.resync().await;
        }
    }

    async fn resync(&mut self) {
        let node = &self.presence.node;
        let mut invocation = redis::cmd("EVAL");
        invocation
            .arg(RESYNC_SCRIPT)
            .arg(2)
            .arg(format!("{PREFIX}node:{node}"))
            .arg(ONLINE_KEY)
            .arg(node)
            .arg(PRESENCE_CHANNEL)
            .arg(PREFIX);
        // Read as late as possible: every local change after this is still queued.
        for (user, count) in (self.snapshot)() {
            invocation.arg(user.as_str()).arg(count);
        }
        match self.query::<(Vec<String>, Vec<String>)>(&invocation).await {
            Ok((online, offline)) => {
                if self.out_of_sync {
                    tracing::info!("cluster presence in sync again: this node's connections are counted in Redis");
                }
                self.out_of_sync = false;
                if !online.is_empty() || !offline.is_empty() {
                    tracing::info!(
                        online = online.len(),
                        offline = offline.len(),
                        "this node's connections written back to Redis"
                    );
                }
            }
            Err(err) => self.lost(&err),
        }
    }

    async fn goodbye(&mut self) {
        let expire = redis::cmd("ZADD")
            .arg(NODES_KEY)
            .arg(0)
            .arg(&self.presence.node)
            .to_owned();
        if let Err(err) = self.query::<i64>(&expire).await {
            tracing::warn!(error = %err, "could not tell Redis this node stops: its users stay online until its heartbeat expires");
        }
    }

    async fn query<T: redis::FromRedisValue>(&mut self, command: &redis::Cmd) -> redis::RedisResult<T> {
        match tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<T>(&mut self.conn)).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            ))),
        }
    }

    fn lost(&mut self, err: &redis::RedisError) {
        if !self.out_of_sync {
            metrics::counter!("orderchat_cluster_errors_total", "kind" => "presence").increment(1);
            tracing::error!(error = %err,
                "Redis unreachable: presence and connection limits count this node's connections only until it is back");
        }
        self.out_of_sync = true;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cluster::{AdapterHealth, Cluster};

    #[test]
    fn the_copy_of_the_online_set_follows_the_channel() {
        let copy = DashSet::new();
        let ana = UserId::parse("ana").unwrap();
        assert_eq!(apply(&copy, b"+ana"), Some((ana.clone(), true)));
        assert!(copy.contains(&ana));
        // Already known (the load saw it): no second announcement.
        assert_eq!(apply(&copy, b"+ana"), None);
        for ignored in [&b"garbage"[..], b"", b"+", b"\xff"] {
            assert_eq!(apply(&copy, ignored), None);
        }
        assert_eq!(copy.len(), 1);
        assert_eq!(apply(&copy, b"-ana"), Some((ana.clone(), false)));
        assert_eq!(apply(&copy, b"-ana"), None);
        assert!(!copy.contains(&ana));
    }

    /// A node on the Redis of `ORDERCHAT_TEST_REDIS_URL` (set by `scripts/test`).
    async fn node(
        url: &str,
    ) -> (
        Arc<ClusterPresence>,
        mpsc::UnboundedReceiver<Announcement>,
        Vec<JoinHandle<()>>,
    ) {
        let cluster = Cluster::connect(url, Arc::new(AdapterHealth::default())).await.unwrap();
        let presence = Arc::new(
            cluster
                .presence(Duration::from_millis(100), Duration::from_millis(400))
                .await
                .unwrap(),
        );
        let (tasks, announcements) = presence.spawn(Box::new(Vec::new));
        // Changes before the first load are in the copy, not announced.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !presence.is_synced() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the listener never loaded the online set"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (presence, announcements, tasks)
    }

    /// The next change `heard` announces about one of `ours` (other tests' users and dead
    /// nodes may share this Redis), within 5 s.
    async fn next_about(heard: &mut mpsc::UnboundedReceiver<Announcement>, ours: &[&UserId]) -> Announcement {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, heard.recv()).await {
                Ok(Some(change)) if ours.contains(&&change.0) => return change,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!("no announcement about {ours:?} within 5 s"),
            }
        }
    }

    #[tokio::test]
    async fn nodes_agree_on_presence_and_limits_and_sweep_a_dead_node() {
        let Ok(url) = std::env::var("ORDERCHAT_TEST_REDIS_URL") else {
            eprintln!("skipped: ORDERCHAT_TEST_REDIS_URL is not set (scripts/test sets it)");
            return;
        };
        let (one, mut heard_by_one, _one_tasks) = node(&url).await;
        let (two, mut heard_by_two, _two_tasks) = node(&url).await;
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let ana = UserId::parse(&format!("ana-{unique}")).unwrap();
        let bo = UserId::parse(&format!("bo-{unique}")).unwrap();
        let ours = [&ana, &bo];

        // First connection anywhere: online; a second node adds no change.
        assert_eq!(
            one.set(&ana, 1, Some(2)).await,
            Ok(Outcome::Written(Change::CameOnline))
        );
        assert_eq!(two.set(&ana, 1, Some(2)).await, Ok(Outcome::Written(Change::None)));
        // The limit counts every live node: 1 on node one + 2 here > 2.
        assert_eq!(two.set(&ana, 2, Some(2)).await, Ok(Outcome::OverLimit));
        // One node lets go: still online; the last one: offline.
        assert_eq!(one.set(&ana, 0, None).await, Ok(Outcome::Written(Change::None)));
        assert_eq!(two.set(&ana, 0, None).await, Ok(Outcome::Written(Change::WentOffline)));
        // Every node hears each change once, in order.
        for heard in [&mut heard_by_one, &mut heard_by_two] {
            assert_eq!(next_about(heard, &ours).await, (ana.clone(), true));
            assert_eq!(next_about(heard, &ours).await, (ana.clone(), false));
        }
        assert!(!one.is_online(&ana) && !two.is_online(&ana));

        // A node that dies (its tasks stop: no goodbye, no heartbeat) is swept by another;
        // every node hears that its user went offline, but not a user also on a live node.
        let (doomed, _, doomed_tasks) = node(&url).await;
        assert_eq!(
            doomed.set(&ana, 1, None).await,
            Ok(Outcome::Written(Change::CameOnline))
        );
        assert_eq!(doomed.set(&bo, 1, None).await, Ok(Outcome::Written(Change::CameOnline)));
        assert_eq!(two.set(&bo, 1, None).await, Ok(Outcome::Written(Change::None)));
        for heard in [&mut heard_by_one, &mut heard_by_two] {
            assert_eq!(next_about(heard, &ours).await, (ana.clone(), true));
            assert_eq!(next_about(heard, &ours).await, (bo.clone(), true));
        }
        assert!(one.is_online(&bo) && two.is_online(&ana));
        for task in doomed_tasks {
            task.abort();
        }
        for heard in [&mut heard_by_one, &mut heard_by_two] {
            assert_eq!(next_about(heard, &ours).await, (ana.clone(), false));
        }
        assert!(one.is_online(&bo), "bo went offline although node two holds her");
        assert_eq!(two.set(&bo, 0, None).await, Ok(Outcome::Written(Change::WentOffline)));
        for heard in [&mut heard_by_one, &mut heard_by_two] {
            assert_eq!(next_about(heard, &ours).await, (bo.clone(), false));
        }
    }
}
