-- Archiving (SPEC §7). Archived messages leave `messages` (and with it its indexes and
-- the full-text table `messages_fts`) for `archived_messages`, which has the same
-- columns, its own (order_id, seq) index and its own full-text table, so queries on
-- hot messages never read an archived row. (0008 and 0009 are other parts of issue 9.)
--
-- The archive moves each order's messages as a prefix of its seqs: `archived_seq` is
-- the highest seq moved, and every seq up to it is archived. The hot table therefore
-- still holds a gapless seq range (archived_seq, last_seq], and history windows stay
-- arithmetic on both sides.

-- When the status last changed (the store sets it; "closed for longer than N days").
ALTER TABLE orders ADD COLUMN status_changed_at TEXT;
UPDATE orders SET status_changed_at = updated_at;
ALTER TABLE orders ADD COLUMN archived_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE archived_messages (
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
    reactions    TEXT NOT NULL DEFAULT '[]',
    archived_at  TEXT NOT NULL,
    UNIQUE (order_id, seq)
);

CREATE VIRTUAL TABLE archived_messages_fts USING fts5 (
    body,
    order_id,
    content = 'archived_messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Archived messages are read-only: only inserts (and, by hand, deletes) change them.
CREATE TRIGGER archived_messages_fts_insert AFTER INSERT ON archived_messages WHEN new.deleted = 0 BEGIN
    INSERT INTO archived_messages_fts (rowid, body, order_id) VALUES (new.rowid, new.body, new.order_id);
END;

CREATE TRIGGER archived_messages_fts_delete AFTER DELETE ON archived_messages WHEN old.deleted = 0 BEGIN
    INSERT INTO archived_messages_fts (archived_messages_fts, rowid, body, order_id)
        VALUES ('delete', old.rowid, old.body, old.order_id);
END;

-- Reactions stay where they are when their message moves: the foreign key to
-- `messages` (ON DELETE CASCADE) would delete them, so the table is rebuilt without it
-- (rowids kept: they give the order of first use).
CREATE TABLE reactions_kept (
    message_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
INSERT INTO reactions_kept (rowid, message_id, user_id, emoji, created_at)
    SELECT rowid, message_id, user_id, emoji, created_at FROM reactions;
DROP TABLE reactions;
ALTER TABLE reactions_kept RENAME TO reactions;
