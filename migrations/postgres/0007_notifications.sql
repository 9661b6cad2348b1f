-- Stored notifications (GET /api/chat/notifications): one row per user and event.
-- `new-message` rows are coalesced: at most one unread one per user and order (the
-- partial unique index), updated in place by each later flush until it is read.
-- `position` orders a user's list and is its cursor: it is taken from the sequence on
-- every insert and every in-place update, so an updated notification moves to the top
-- and pages read with an older cursor stay stable.
CREATE SEQUENCE notification_positions;

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    message    TEXT NOT NULL,
    message_id TEXT,
    seq        BIGINT,
    count      BIGINT NOT NULL,
    read_at    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    position   BIGINT NOT NULL DEFAULT nextval('notification_positions')
);
CREATE INDEX notifications_by_user ON notifications (user_id, position);
CREATE UNIQUE INDEX notifications_unread_new_message ON notifications (user_id, order_id)
    WHERE kind = 'new-message' AND read_at IS NULL;
-- The expiry job deletes by age.
CREATE INDEX notifications_by_age ON notifications (updated_at);
