//! The push webhook's sender (SPEC §5, README "Push webhook", docs/API.md): a
//! background task that claims due entries from the outbox (`chat/webhook.rs` queues
//! them), POSTs each as signed JSON and reports the outcome, on every node that has
//! `ORDERCHAT_PUSH_WEBHOOK_URL`. The outbox lives in the database, so a push survives a
//! restart, and a claim is a lease, so several nodes never send one entry at once.

mod sender;
mod signature;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use http_client::Url;
use ring::hmac;
use tokio::task::JoinHandle;

use crate::chat::{ChatService, PushPolicy};
use crate::config::PushWebhookSettings;
use crate::shutdown::Shutdown;

pub use signature::{key, sign};

/// Beyond the request timeout, how long a claimed entry stays with its sender: a push
/// under way is never claimed by another sender, and one whose sender died is due
/// again this long after its request would have timed out.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Where and how pushes are sent; built from the settings at start.
pub struct Webhook {
    url: Url,
    key: hmac::Key,
    client: http_client::Client,
    policy: PushPolicy,
}

impl Webhook {
    /// The webhook the settings describe; `None` without a URL. Refuses a URL that is not
    /// `http(s)://` and a URL without a secret, saying why.
    pub fn from_settings(settings: &PushWebhookSettings) -> anyhow::Result<Option<Self>> {
        let Some(raw) = settings.push_webhook_url.as_deref() else {
            return Ok(None);
        };
        // Not the URL itself in these messages: it may carry credentials.
        let url = Url::parse(raw.trim()).context("ORDERCHAT_PUSH_WEBHOOK_URL is not a URL")?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            bail!(
                "ORDERCHAT_PUSH_WEBHOOK_URL must be an http:// or https:// URL with a host (it starts with {}:)",
                url.scheme()
            );
        }
        let secret = match settings.push_webhook_secret.as_deref() {
            Some(secret) if !secret.is_empty() => secret,
            _ => bail!(
                "ORDERCHAT_PUSH_WEBHOOK_SECRET is required when ORDERCHAT_PUSH_WEBHOOK_URL is set: \
                 receivers verify every push with it"
            ),
        };
        let timeout = Duration::from_millis(settings.push_webhook_timeout_ms.max(1));
        crate::tls::install_crypto_provider();
        let client = http_client::Client::builder()
            .timeout(timeout)
            // A redirect is an answer other than 2xx: a failed attempt, retried.
            .redirect(http_client::redirect::Policy::none())
            .user_agent(concat!("orderchat/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the push webhook's HTTP client")?;
        let policy = PushPolicy {
            delay: Duration::from_millis(settings.push_webhook_delay_ms),
            retry_base: Duration::from_millis(settings.push_webhook_retry_base_ms.max(1)),
            max_age: Duration::from_secs(settings.push_webhook_max_age_secs),
            lease: timeout + LEASE_MARGIN,
        };
        Ok(Some(Self {
            url,
            key: key(secret),
            client,
            policy,
        }))
    }

    /// When pushes are tried, for the use cases that queue them.
    pub fn policy(&self) -> PushPolicy {
        self.policy
    }

    /// Starts sending. The task stops by itself once shutdown drains (after the pushes
    /// under way are answered); the caller aborts it after the grace period.
    pub fn spawn(self, chat: ChatService, shutdown: Shutdown) -> JoinHandle<()> {
        tracing::info!(
            host = self.url.host_str().unwrap_or_default(),
            "push webhook on: users with no connection get pushes via {}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default(),
        );
        tokio::spawn(sender::run(Arc::new(self), chat, shutdown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: Option<&str>, secret: Option<&str>) -> PushWebhookSettings {
        PushWebhookSettings {
            push_webhook_url: url.map(str::to_owned),
            push_webhook_secret: secret.map(str::to_owned),
            push_webhook_timeout_ms: 10_000,
            push_webhook_retry_base_ms: 1_000,
            push_webhook_max_age_secs: 86_400,
            push_webhook_delay_ms: 1_000,
        }
    }

    fn refusal(url: &str, secret: Option<&str>) -> String {
        match Webhook::from_settings(&settings(Some(url), secret)) {
            Ok(_) => panic!("{url} was taken"),
            Err(err) => format!("{err:#}"),
        }
    }

    #[test]
    fn no_url_means_no_webhook_and_a_url_needs_a_secret_and_http() {
        assert!(Webhook::from_settings(&settings(None, None)).unwrap().is_none());
        let webhook = Webhook::from_settings(&settings(Some("https://push.example/hook"), Some("s3cret")))
            .unwrap()
            .unwrap();
        assert_eq!(webhook.policy().lease, Duration::from_secs(40));

        for secret in [None, Some("")] {
            let err = refusal("https://push.example/hook", secret);
            assert!(err.contains("ORDERCHAT_PUSH_WEBHOOK_SECRET is required"), "{err}");
        }
        let err = refusal("ftp://user:pw@push.example/hook", Some("s3cret"));
        assert!(err.contains("must be an http:// or https:// URL"), "{err}");
        assert!(
            !err.contains("pw@"),
            "credentials of the URL stay out of the message: {err}"
        );
        let err = refusal("no url at all", Some("s3cret"));
        assert!(err.contains("is not a URL"), "{err}");
        assert!(!format!("{:?}", settings(None, Some("s3cret"))).contains("s3cret"));
    }
}
