-- orderchat schema, SQLite. Timestamps are RFC 3339 UTC text with milliseconds, which
-- sort in time order as plain text.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY NOT NULL,
    number           TEXT,
    status           TEXT,
    -- seq of the newest message; the next message gets last_seq + 1.
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_activity_at TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX orders_by_activity ON orders (last_activity_at DESC);

CREATE TABLE order_participants (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    role     TEXT NOT NULL,
    name     TEXT,
    PRIMARY KEY (order_id, user_id)
);
CREATE INDEX participants_by_user ON order_participants (user_id);

CREATE TABLE messages (
    -- The integer rowid is what the full-text index points at.
    rowid        INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    seq          INTEGER NOT NULL,
    user_id      TEXT,
    user_name    TEXT,
    user_role    TEXT,
    body         TEXT NOT NULL,
    message_type TEXT NOT NULL,
    sender_type  TEXT NOT NULL,
    attachments  TEXT NOT NULL DEFAULT '[]',
    reply_to     TEXT,
    client_id    TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    edited_at    TEXT,
    deleted      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (order_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (order_id, user_id, client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE read_pointers (
    order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, user_id)
);

-- Full-text index over message bodies, kept in step by triggers. Tombstones leave it.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.deleted = 0 BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.rowid, old.body WHERE old.deleted = 0;
    INSERT INTO messages_fts (rowid, body)
        SELECT new.rowid, new.body WHERE new.deleted = 0;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.deleted = 0 BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
