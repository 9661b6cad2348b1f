-- Archiving (SPEC §7). Archived messages leave `messages` (and with it its indexes,
-- the `words` search index among them) for `archived_messages`, which has the same
-- columns, its own (order_id, seq) index and its own search index, so queries on hot
-- messages never read an archived row. (0007 and 0008 are other parts of issue 9.)
--
-- The archive moves each order's messages as a prefix of its seqs: `archived_seq` is
-- the highest seq moved, and every seq up to it is archived. The hot table therefore
-- still holds a gapless seq range (archived_seq, last_seq], and history windows stay
-- arithmetic on both sides.

-- When the status last changed (the store sets it; "closed for longer than N days").
ALTER TABLE orders ADD COLUMN status_changed_at TEXT;
UPDATE orders SET status_changed_at = updated_at;
ALTER TABLE orders ADD COLUMN archived_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE archived_messages (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    seq          BIGINT NOT NULL,
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
    deleted      BOOLEAN NOT NULL DEFAULT false,
    reactions    TEXT NOT NULL DEFAULT '[]',
    archived_at  TEXT NOT NULL,
    words        TSVECTOR GENERATED ALWAYS AS (to_tsvector('orderchat_words', body)) STORED,
    UNIQUE (order_id, seq)
);
CREATE INDEX archived_messages_words ON archived_messages USING GIN (words);

-- Reactions stay where they are when their message moves: the foreign key to
-- `messages` (ON DELETE CASCADE) would delete them.
ALTER TABLE reactions DROP CONSTRAINT reactions_message_id_fkey;
