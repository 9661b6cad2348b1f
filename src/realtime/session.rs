//! A connection lives no longer than its token (SPEC §2): when `exp` plus the clock
//! leeway passes, the server emits `session-expired` and disconnects it, unless the
//! client sent `refresh-token` with a newer token of the same user first.
//!
//! Deadlines sit in one ordered set shared by the node, and one housekeeping task
//! pops the due ones every second, so an idle connection costs an entry here and no
//! timer or task of its own. The deadline that counts is the one in the connection's
//! `Identity` (a refresh replaces it); an entry popped for a connection that has
//! refreshed since is simply skipped.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;

use crate::domain::Identity;

#[derive(Default)]
pub struct Sessions {
    deadlines: Mutex<BTreeSet<(u64, Sid)>>,
}

impl Sessions {
    /// Watches a connection whose token is valid until `valid_until` (Unix seconds).
    pub fn watch(&self, sid: Sid, valid_until: Option<u64>) {
        if let Some(deadline) = valid_until {
            self.lock().insert((deadline, sid));
        }
    }

    /// Stops watching one deadline of a connection (closed, or refreshed).
    pub fn forget(&self, sid: Sid, valid_until: Option<u64>) {
        if let Some(deadline) = valid_until {
            self.lock().remove(&(deadline, sid));
        }
    }

    /// Takes every connection whose deadline is before `now`.
    pub fn take_due(&self, now: u64) -> Vec<Sid> {
        let mut deadlines = self.lock();
        let still_valid = deadlines.split_off(&(now, Sid::ZERO));
        let due = std::mem::replace(&mut *deadlines, still_valid);
        due.into_iter().map(|(_, sid)| sid).collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, Sid)>> {
        // A panic while holding this lock cannot leave the set half-updated.
        self.deadlines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether a connection's token has expired at `now`.
pub fn expired(identity: &Identity, now: u64) -> bool {
    identity.valid_until.is_some_and(|deadline| now > deadline)
}

/// Ends every connection whose token has expired: `session-expired`, then disconnect.
pub fn end_expired<A: Adapter>(io: &SocketIo<A>, sessions: &Sessions) {
    let now = jsonwebtoken::get_current_timestamp();
    let due = sessions.take_due(now);
    if due.is_empty() {
        return;
    }
    let Some(namespace) = io.of("/") else { return };
    for sid in due {
        let Some(socket) = namespace.get_socket(sid) else {
            continue;
        };
        let still_expired = socket
            .extensions
            .get::<Identity>()
            .is_none_or(|identity| expired(&identity, now));
        if !still_expired {
            continue;
        }
        metrics::counter!("orderchat_sessions_expired_total").increment(1);
        tracing::info!(sid = %sid, "token expired: closing the connection");
        if let Err(err) = socket.emit("session-expired", &json!({ "reason": "token expired" })) {
            tracing::debug!(error = %err, "session-expired not delivered");
        }
        if let Err(err) = socket.disconnect() {
            tracing::debug!(error = %err, "expired connection was already closing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_due_deadlines_are_taken() {
        let sessions = Sessions::default();
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        sessions.watch(a, Some(100));
        sessions.watch(b, Some(200));
        sessions.watch(c, None);
        assert_eq!(sessions.take_due(100), Vec::<Sid>::new());
        assert_eq!(sessions.take_due(101), vec![a]);
        assert_eq!(sessions.len(), 1);
        sessions.forget(b, Some(200));
        assert!(sessions.take_due(1000).is_empty());
        assert!(sessions.is_empty());
    }
}
