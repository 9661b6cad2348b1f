//! The server under test: where it listens, how to mint tokens it accepts, how to
//! register orders on it (`PUT /api/orders/:id` as the platform), and how to read its
//! process's CPU time and memory when its PID is known.

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
    /// `http://host:port`
    pub url: String,
    pub pid: Option<u32>,
    key: EncodingKey,
    http: reqwest::Client,
    service_token: String,
}

impl Target {
    pub fn new(url: &str, secret: &str, pid: Option<u32>) -> anyhow::Result<Self> {
        let key = EncodingKey::from_secret(secret.as_bytes());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()?;
        let mut target = Target {
            url: url.trim_end_matches('/').to_owned(),
            pid,
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

    /// The server's resident memory in KiB, if its PID is known.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(sys::rss_kib)
    }

    /// The server's CPU time so far, if its PID is known.
    pub fn cpu(&self) -> Option<Duration> {
        self.pid.and_then(sys::process_cpu)
    }
}
