-- Stored notifications (GET /api/chat/notifications): one row per user and event.
-- `new-message` rows are coalesced: at most one unread one per user and order (the
-- partial unique index), updated in place by each later flush until it is read.
-- `position` orders a user's list and is its cursor: it is taken from
-- `notification_positions` on every insert and every in-place update, so an updated
-- notification moves to the top and pages read with an older cursor stay stable.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    message    TEXT NOT NULL,
    message_id TEXT,
    seq        INTEGER,
    count      INTEGER NOT NULL,
    read_at    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    position   INTEGER NOT NULL
);
CREATE INDEX notifications_by_user ON notifications (user_id, position);
CREATE UNIQUE INDEX notifications_unread_new_message ON notifications (user_id, order_id)
    WHERE kind = 'new-message' AND read_at IS NULL;
-- The expiry job deletes by age.
CREATE INDEX notifications_by_age ON notifications (updated_at);

-- The last `position` handed out (one row); never goes back, even when every
-- notification has expired.
CREATE TABLE notification_positions (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO notification_positions (id, last) VALUES (1, 0);
