//! `AppState`: everything a handler may need, handed to axum and to socketioxide
//! alike. Cheap to clone (only `Arc`s inside); there is no other shared state.

use std::sync::Arc;

use crate::auth::Verifier;
use crate::chat::ChatService;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::realtime::Realtime;
use crate::shutdown::Shutdown;

#[derive(Clone)]
pub struct AppState {
    pub chat: ChatService,
    pub verifier: Arc<Verifier>,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub realtime: Realtime,
    pub shutdown: Shutdown,
    /// Redis, when several nodes act as one (`ORDERCHAT_REDIS_URL`); `None` on one node.
    pub cluster: Option<Arc<Cluster>>,
}
