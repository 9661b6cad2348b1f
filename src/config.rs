//! Configuration: every setting is a command-line flag with an `ORDERCHAT_*`
//! environment variable behind it, so the same binary runs from a shell, a unit file
//! or a container without a config file. The variable names in SPEC §1 are fixed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Settings of `orderchat serve` (and of `token` / `migrate`, which share the storage
/// and JWT settings so a minted token verifies against the running server).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port (the log says which).
    #[arg(long, env = "ORDERCHAT_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Directory for the embedded database, local attachments and the dev JWT secret.
    #[arg(long, env = "ORDERCHAT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `sqlite://…` or `postgres://…` URL of the database (PostgreSQL for several nodes
    /// sharing one database); unset: `orderchat.db` in the data directory.
    #[arg(long, env = "ORDERCHAT_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis URL (`redis://host:6379`, Redis 7 or later; RESP3 is used) for several
    /// nodes acting as one: broadcasts and order changes reach every node. Unset: a
    /// single node. The server refuses to start if Redis does not answer.
    #[arg(long, env = "ORDERCHAT_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Several nodes: milliseconds between a node's presence heartbeats in Redis (each
    /// also sweeps the nodes that stopped answering).
    #[arg(long, env = "ORDERCHAT_PRESENCE_HEARTBEAT_MS", default_value_t = 5_000)]
    pub presence_heartbeat_ms: u64,

    /// Several nodes: milliseconds after its last heartbeat that a node counts as dead;
    /// its users then go offline (announced within one more heartbeat). At least twice
    /// the heartbeat, or the server does not start.
    #[arg(long, env = "ORDERCHAT_PRESENCE_EXPIRY_MS", default_value_t = 15_000)]
    pub presence_expiry_ms: u64,

    /// Days a stored notification is kept after its last update; older ones are
    /// deleted by a background job.
    #[arg(long, env = "ORDERCHAT_NOTIFICATION_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub notification_retention_days: u64,

    #[command(flatten)]
    pub jwt: JwtConfig,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub attachments: AttachmentSettings,

    #[command(flatten)]
    pub push_webhook: PushWebhookSettings,

    #[command(flatten)]
    pub archive: ArchiveSettings,

    /// Directory of the built dispatcher console (`web/console`, built with `npm run
    /// build` in `web/`), served at `/console/`; relative to the working directory.
    /// Without an `index.html` in it, `/console/` answers `404 console_not_built`.
    #[arg(long, env = "ORDERCHAT_CONSOLE_DIR", default_value = "web/console/dist")]
    pub console_dir: PathBuf,

    /// Comma-separated origins allowed for HTTP CORS and the WebSocket `Origin` check;
    /// unset: same origin only. `*` allows any origin.
    #[arg(long, env = "ORDERCHAT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Order statuses that mean the order is over: a user's presence is not announced
    /// to the rooms of such orders (compared without regard to case).
    #[arg(
        long,
        env = "ORDERCHAT_CLOSED_STATUSES",
        value_delimiter = ',',
        default_value = "delivered,completed,cancelled,canceled,closed,archived"
    )]
    pub closed_statuses: Vec<String>,

    /// Order statuses that close an order's chat: sending, editing, reacting and
    /// uploading answer 409 `order_closed` until the platform changes the status again
    /// (compared without regard to case), and the archive moves all messages of such
    /// orders once they have been closed for `ORDERCHAT_ARCHIVE_CLOSED_AFTER_DAYS`.
    /// `delivered` is not among them by default: a customer may still have something to
    /// say about a delivery.
    #[arg(
        long,
        env = "ORDERCHAT_ARCHIVE_CLOSED_STATUSES",
        value_delimiter = ',',
        default_value = "completed,cancelled,canceled,closed"
    )]
    pub archive_closed_statuses: Vec<String>,

    /// Seconds that in-flight requests and socket handlers get to finish after SIGTERM
    /// before sockets are closed and the database is flushed anyway.
    #[arg(long, env = "ORDERCHAT_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Log format.
    #[arg(long, env = "ORDERCHAT_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// How tokens are verified (SPEC §2).
#[derive(Debug, Clone, Args)]
pub struct JwtConfig {
    /// HS256 secret. Unset (and no public key): a random secret is generated in the data
    /// directory on first start.
    #[arg(long, env = "ORDERCHAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Path of a PEM public key (RSA, EC P-256 or Ed25519); selects RS256/ES256/EdDSA.
    #[arg(long, env = "ORDERCHAT_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Required `iss` claim, if set.
    #[arg(long, env = "ORDERCHAT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim, if set.
    #[arg(long, env = "ORDERCHAT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Refuse tokens without `exp` (turn off only for legacy issuers).
    #[arg(long, env = "ORDERCHAT_JWT_REQUIRE_EXP", default_value_t = true, action = clap::ArgAction::Set)]
    pub jwt_require_exp: bool,

    /// Clock leeway, in seconds, for `exp` and `nbf`. A Socket.IO connection is closed
    /// once its token's `exp` plus this leeway has passed.
    #[arg(long, env = "ORDERCHAT_JWT_LEEWAY_SECS", default_value_t = 30)]
    pub jwt_leeway_secs: u64,

    /// Roles that may open every order's chat.
    #[arg(
        long,
        env = "ORDERCHAT_STAFF_ROLES",
        value_delimiter = ',',
        default_value = "admin,dispatcher,moderator"
    )]
    pub staff_roles: Vec<String>,
}

/// Safe defaults against abuse (SPEC §6). Per node, except the connections per user,
/// which hold across nodes with Redis (see `cluster/mod.rs` for why the rates do not).
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Longest message text, in characters.
    #[arg(long, env = "ORDERCHAT_MAX_MESSAGE_LENGTH", default_value_t = 4000)]
    pub max_message_length: usize,

    /// Largest HTTP JSON body, in bytes.
    #[arg(long, env = "ORDERCHAT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Largest Socket.IO packet (Engine.IO payload and WebSocket message), in bytes.
    #[arg(long, env = "ORDERCHAT_MAX_SOCKET_PAYLOAD", default_value_t = 64 * 1024)]
    pub max_socket_payload: usize,

    /// Packets queued per connection before it counts as a client that stopped reading
    /// and is dropped (it reconnects and catches up with `sinceSeq`).
    #[arg(long, env = "ORDERCHAT_SOCKET_BUFFER_PACKETS", default_value_t = 4096)]
    pub socket_buffer_packets: usize,

    /// Bytes of event payloads queued per connection before it counts as a client that
    /// stopped reading (whichever of this and the packet count comes first).
    #[arg(long, env = "ORDERCHAT_SOCKET_BUFFER_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub socket_buffer_bytes: usize,

    /// Messages a user may send per minute (HTTP and Socket.IO together).
    #[arg(long, env = "ORDERCHAT_MESSAGE_RATE_PER_MINUTE", default_value_t = 120)]
    pub message_rate_per_minute: u32,

    /// Messages a user may send in a burst before the rate applies.
    #[arg(long, env = "ORDERCHAT_MESSAGE_BURST", default_value_t = 30)]
    pub message_burst: u32,

    /// Typing events a user may send per minute.
    #[arg(long, env = "ORDERCHAT_TYPING_RATE_PER_MINUTE", default_value_t = 60)]
    pub typing_rate_per_minute: u32,

    /// Typing events a user may send in a burst.
    #[arg(long, env = "ORDERCHAT_TYPING_BURST", default_value_t = 10)]
    pub typing_burst: u32,

    /// Seconds after which a `typing-start` without `typing-stop` expires.
    #[arg(long, env = "ORDERCHAT_TYPING_TIMEOUT_SECS", default_value_t = 5)]
    pub typing_timeout_secs: u64,

    /// Socket.IO connections one user may hold at once.
    #[arg(long, env = "ORDERCHAT_MAX_CONNECTIONS_PER_USER", default_value_t = 20)]
    pub max_connections_per_user: usize,

    /// Socket.IO connections the node holds at once.
    #[arg(long, env = "ORDERCHAT_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Messages that may wait to be stored; past this, sends are refused with
    /// `503 unavailable` (the writer is behind) instead of queueing in memory.
    #[arg(long, env = "ORDERCHAT_WRITE_QUEUE_MESSAGES", default_value_t = 16_384)]
    pub write_queue_messages: usize,

    /// Seconds a client has to send a request's headers. The same timer closes a
    /// kept-alive HTTP connection that sends no new request (idle keep-alive timeout).
    #[arg(long, env = "ORDERCHAT_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 30)]
    pub http_header_timeout_secs: u64,

    /// Seconds a client has to send a whole request body (HTTP API and Socket.IO
    /// long-polling); a body that trickles in slower gets `408` and the connection closes.
    #[arg(long, env = "ORDERCHAT_HTTP_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub http_body_timeout_secs: u64,
}

impl Limits {
    pub fn typing_timeout(&self) -> Duration {
        Duration::from_secs(self.typing_timeout_secs.max(1))
    }

    pub fn http_header_timeout(&self) -> Duration {
        Duration::from_secs(self.http_header_timeout_secs.max(1))
    }

    pub fn http_body_timeout(&self) -> Duration {
        Duration::from_secs(self.http_body_timeout_secs.max(1))
    }
}

/// File attachments (SPEC §4, §6): where they are stored and what is taken.
#[derive(Debug, Clone, Args)]
pub struct AttachmentSettings {
    /// `file:///DIR` or `s3://BUCKET/PREFIX` (credentials and endpoint from the usual
    /// AWS variables); unset: `attachments/` in the data directory.
    #[arg(long, env = "ORDERCHAT_ATTACHMENTS_URL")]
    pub attachments_url: Option<String>,

    /// Largest file, in bytes (25 MiB: phone photos and scanned documents).
    #[arg(long, env = "ORDERCHAT_MAX_ATTACHMENT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_attachment_bytes: u64,

    /// Content types taken, decided from the file's bytes; others get `415`.
    #[arg(
        long,
        env = "ORDERCHAT_ATTACHMENT_TYPES",
        value_delimiter = ',',
        default_value = crate::attachments::content::DEFAULT_TYPES
    )]
    pub attachment_types: Vec<String>,

    /// Bytes one user may upload in any 24 hours (`0`: no quota).
    #[arg(long, env = "ORDERCHAT_ATTACHMENT_QUOTA_BYTES_PER_DAY", default_value_t = 1024 * 1024 * 1024)]
    pub attachment_quota_bytes_per_day: u64,

    /// Uploads one user may have under way at once on a node; more get `429`.
    #[arg(long, env = "ORDERCHAT_MAX_UPLOADS_PER_USER", default_value_t = 4)]
    pub max_uploads_per_user: usize,

    /// Uploads a node takes at once (each holds up to two parts of the file in memory:
    /// 1 MiB each on a local directory, 5 MiB on S3); more get `429`.
    #[arg(long, env = "ORDERCHAT_MAX_UPLOADS", default_value_t = 64)]
    pub max_uploads: usize,

    /// Seconds after which an upload that no message attached is deleted.
    #[arg(long, env = "ORDERCHAT_ATTACHMENT_UNREFERENCED_SECS", default_value_t = 24 * 3600)]
    pub attachment_unreferenced_secs: u64,

    /// Seconds an upload's body may take to arrive (longer than other requests' body
    /// timeout: a 25 MB photo on a weak mobile link). A body that stalls for the
    /// ordinary body timeout is still cut off.
    #[arg(long, env = "ORDERCHAT_ATTACHMENT_BODY_TIMEOUT_SECS", default_value_t = 600)]
    pub attachment_body_timeout_secs: u64,

    /// Largest image a thumbnail is made of, in bytes (decoding needs it in memory).
    #[arg(long, env = "ORDERCHAT_THUMBNAIL_MAX_SOURCE_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub thumbnail_max_source_bytes: u64,
}

impl AttachmentSettings {
    pub fn url(&self, data_dir: &std::path::Path) -> String {
        match &self.attachments_url {
            Some(url) => url.clone(),
            None => {
                let dir = data_dir.join("attachments");
                // The data directory may be relative (`./data`): object_store wants it absolute.
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                format!("file://{}", dir.display())
            }
        }
    }
}

/// The push webhook (SPEC §5, README "Push webhook"): users with no connection at all
/// hear of new messages and status changes through a signed HTTP POST, sent from a
/// durable outbox in the database.
#[derive(Clone, Args)]
pub struct PushWebhookSettings {
    /// `http://` or `https://` URL that receives a signed JSON POST per coalesced push
    /// (docs/API.md). Unset: no pushes are queued or sent.
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_URL")]
    pub push_webhook_url: Option<String>,

    /// Key of the HMAC-SHA256 signature in `X-Orderchat-Signature`; required with the
    /// URL (the server does not start without it). Never logged.
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_SECRET", hide_env_values = true)]
    pub push_webhook_secret: Option<String>,

    /// Milliseconds a POST may take (connecting, sending, the answer) before it counts
    /// as failed and is retried.
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub push_webhook_timeout_ms: u64,

    /// Milliseconds of the first retry's backoff; each further failure doubles it (at
    /// most 5 minutes), scaled by a random factor between 0.5 and 1.
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_RETRY_BASE_MS", default_value_t = 1_000)]
    pub push_webhook_retry_base_ms: u64,

    /// Seconds after it was queued that a push which still fails becomes a dead letter
    /// (kept in the outbox, never sent again, counted in `/metrics`).
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_MAX_AGE_SECS", default_value_t = 86_400)]
    pub push_webhook_max_age_secs: u64,

    /// Milliseconds a new push waits before its first attempt, so that the rest of a
    /// burst of messages joins it (one push that says how many).
    #[arg(long, env = "ORDERCHAT_PUSH_WEBHOOK_DELAY_MS", default_value_t = 1_000)]
    pub push_webhook_delay_ms: u64,
}

/// By hand, so that the secret never reaches a log line.
impl std::fmt::Debug for PushWebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushWebhookSettings")
            .field("push_webhook_url", &self.push_webhook_url)
            .field("push_webhook_secret", &self.push_webhook_secret.as_ref().map(|_| "***"))
            .field("push_webhook_timeout_ms", &self.push_webhook_timeout_ms)
            .field("push_webhook_retry_base_ms", &self.push_webhook_retry_base_ms)
            .field("push_webhook_max_age_secs", &self.push_webhook_max_age_secs)
            .field("push_webhook_delay_ms", &self.push_webhook_delay_ms)
            .finish()
    }
}

/// Archiving (SPEC §7): which messages leave the hot tables, and how the job runs.
#[derive(Debug, Clone, Args)]
pub struct ArchiveSettings {
    /// Days after which a message (by its `createdAt`) moves to the archive.
    #[arg(long, env = "ORDERCHAT_ARCHIVE_AFTER_DAYS", default_value_t = 90)]
    pub archive_after_days: u32,

    /// Days after an order's status became one of `ORDERCHAT_ARCHIVE_CLOSED_STATUSES`
    /// after which all of its messages move to the archive.
    #[arg(long, env = "ORDERCHAT_ARCHIVE_CLOSED_AFTER_DAYS", default_value_t = 30)]
    pub archive_closed_after_days: u32,

    /// Most messages one archive batch moves (each order's share in one short
    /// transaction), so a run never holds the database's write lock for long.
    #[arg(long, env = "ORDERCHAT_ARCHIVE_BATCH", default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub archive_batch: i64,

    /// Seconds between two archive runs of the server (the first one this long after
    /// the start); `0`: the server never archives (`orderchat archive` still does).
    #[arg(long, env = "ORDERCHAT_ARCHIVE_INTERVAL_SECS", default_value_t = 3600)]
    pub archive_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// The presence heartbeat period and the expiry of a node's heartbeat. Refused
    /// unless the expiry is at least two periods (one late heartbeat must not make a node
    /// look dead) and the period at least 50 ms (each heartbeat is a Redis script).
    pub fn presence_timing(&self) -> anyhow::Result<(Duration, Duration)> {
        let (heartbeat, expiry) = (self.presence_heartbeat_ms, self.presence_expiry_ms);
        if heartbeat < 50 {
            anyhow::bail!("ORDERCHAT_PRESENCE_HEARTBEAT_MS must be at least 50 (it is {heartbeat})");
        }
        if expiry < heartbeat.saturating_mul(2) {
            anyhow::bail!(
                "ORDERCHAT_PRESENCE_EXPIRY_MS ({expiry}) must be at least twice \
                 ORDERCHAT_PRESENCE_HEARTBEAT_MS ({heartbeat}): one late heartbeat would make a node look dead"
            );
        }
        Ok((Duration::from_millis(heartbeat), Duration::from_millis(expiry)))
    }

    /// The database URL: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("orderchat.db").display()),
        }
    }

    /// The database URL fit for a log line: a password in it (`postgres://user:secret@…`)
    /// is replaced by `***`.
    pub fn database_url_for_logs(&self) -> String {
        redact_password(&self.database_url())
    }
}

fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    // The credentials end at the last `@` before the path.
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].split_once(':') {
        Some((user, _password)) => format!("{}{user}:***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn database_passwords_stay_out_of_logs() {
        assert_eq!(
            redact_password("postgres://chat:s3cr@t@db.internal:5432/orderchat?sslmode=require"),
            "postgres://chat:***@db.internal:5432/orderchat?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://chat@db/orderchat"),
            "postgres://chat@db/orderchat"
        );
        assert_eq!(
            redact_password("sqlite:///data/orderchat.db"),
            "sqlite:///data/orderchat.db"
        );
        assert_eq!(redact_password("postgres://db/x?user=a@b"), "postgres://db/x?user=a@b");
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
