//! The server under test: where it listens (one node, or several acting as one), how to
//! mint tokens it accepts, how to register orders on it (`PUT /api/orders/:id` as the
//! platform, always on the first node), and how to read the CPU time and memory of its
//! processes — its nodes and the stores they use (PostgreSQL, Redis) — when their PIDs
//! are known.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;
use serde_json::json;

use crate::sys;

/// A participant of a registered order.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: String,
    pub role: &'static str,
}

impl Member {
    pub fn new(user_id: String, role: &'static str) -> Self {
        Member { user_id, role }
    }

    pub fn name(&self) -> String {
        format!("Bench {}", self.user_id)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'a str,
    name: &'a str,
    exp: u64,
}

pub struct Target {
    /// `http://host:port` of the first node: HTTP set-up goes there.
    pub url: String,
    /// Every node's `http://host:port`, the first one included (a cluster has several).
    pub nodes: Vec<String>,
    /// PIDs of the server's processes (one per node), if known.
    pub pids: Vec<u32>,
    /// PIDs of the stores the server uses (PostgreSQL's postmaster, Redis), if known:
    /// their CPU, children included, is the server's too, not other work on the machine.
    pub db_pids: Vec<u32>,
    key: EncodingKey,
    http: reqwest::Client,
    service_token: String,
}

impl Target {
    /// `nodes` must not be empty; the first one takes the HTTP set-up calls.
    pub fn new(nodes: &[String], secret: &str, pids: Vec<u32>, db_pids: Vec<u32>) -> anyhow::Result<Self> {
        let nodes: Vec<String> = nodes.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        let Some(url) = nodes.first().cloned() else {
            bail!("no server URL");
        };
        let key = EncodingKey::from_secret(secret.as_bytes());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()?;
        let mut target = Target {
            url,
            nodes,
            pids,
            db_pids,
            key,
            http,
            service_token: String::new(),
        };
        target.service_token = target.token("orderchat-bench", "service");
        Ok(target)
    }

    /// An HS256 token `{ sub, role, name, exp }` valid for two hours.
    pub fn token(&self, sub: &str, role: &str) -> String {
        let exp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 7200;
        let name = format!("Bench {sub}");
        let claims = Claims {
            sub,
            role,
            name: &name,
            exp,
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.key).expect("HS256 signing cannot fail")
    }

    pub fn member_token(&self, member: &Member) -> String {
        self.token(&member.user_id, member.role)
    }

    /// `PUT /api/orders/:id` as the platform service.
    pub async fn put_order(&self, order_id: &str, members: &[Member]) -> anyhow::Result<()> {
        let participants: Vec<_> = members
            .iter()
            .map(|m| json!({ "userId": m.user_id, "role": m.role, "name": m.name() }))
            .collect();
        let body = json!({ "number": format!("B-{order_id}"), "status": "created", "participants": participants });
        let response = self
            .http
            .put(format!("{}/api/orders/{order_id}", self.url))
            .bearer_auth(&self.service_token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("PUT /api/orders/{order_id}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("PUT /api/orders/{order_id}: {status} {text:.200}");
        }
        Ok(())
    }

    /// Registers many orders, a few requests at a time.
    pub async fn put_orders(&self, orders: &[(String, Vec<Member>)]) -> anyhow::Result<()> {
        use futures_util::StreamExt;
        let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(orders)
            .map(|(id, members)| self.put_order(id, members))
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// The server's resident memory in KiB (all its nodes), if its PIDs are known.
    pub fn rss_kib(&self) -> Option<u64> {
        sum(self.pids.iter().map(|pid| sys::rss_kib(*pid)))
    }

    /// The server's CPU time so far (all its nodes), if its PIDs are known.
    pub fn cpu(&self) -> Option<Duration> {
        sum(self.pids.iter().map(|pid| sys::process_cpu(*pid)))
    }

    /// Each node's CPU time so far, in the order of `pids`.
    pub fn node_cpu(&self) -> Vec<Option<Duration>> {
        self.pids.iter().map(|pid| sys::process_cpu(*pid)).collect()
    }

    /// CPU time so far of the stores the server uses, with their child processes
    /// (PostgreSQL runs one per connection), if their PIDs are known.
    pub fn db_cpu(&self) -> Option<Duration> {
        sum(self.db_pids.iter().map(|pid| sys::process_tree_cpu(*pid)))
    }
}

/// The sum, or `None` if there is nothing to add or any part is unknown.
fn sum<T: std::iter::Sum<T>>(parts: impl Iterator<Item = Option<T>>) -> Option<T> {
    let parts: Option<Vec<T>> = parts.collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.into_iter().sum())
}
