-- orderchat schema, PostgreSQL. The same tables and columns as the SQLite schema, so one
-- set of row types reads both: timestamps are RFC 3339 UTC text with milliseconds (they
-- sort in time order as plain text), attachments are JSON text.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    number           TEXT,
    status           TEXT,
    -- seq of the newest message; the next message gets last_seq + 1. Writers lock this
    -- row (SELECT … FOR UPDATE) before they allocate seqs, which is what keeps seqs
    -- gapless and unique with many nodes writing to one order.
    last_seq         BIGINT NOT NULL DEFAULT 0,
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
    -- Insertion order (SQLite lists participants by rowid; this keeps the same order).
    position BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (order_id, user_id)
);
CREATE INDEX participants_by_user ON order_participants (user_id);

CREATE TABLE messages (
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
    -- Full-text words of the body. The `simple` configuration lower-cases and splits,
    -- with no stemming and no stop words: chats mix languages (a driver's Spanish, a
    -- customer's English), an English stemmer would mangle the rest and drop words such
    -- as "no" or "not"; this also matches what SQLite's unicode61 tokenizer does.
    -- A tombstone's body is empty, so deleted messages leave the index by themselves.
    words        TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    UNIQUE (order_id, seq)
);
-- The last guard of clientId dedup; writers look ids up under the order lock first.
CREATE UNIQUE INDEX messages_client_id ON messages (order_id, user_id, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX messages_words ON messages USING GIN (words);

-- A participant's read pointer and how many messages above it are unread for them (not
-- their own, not deleted), kept in the same transaction as every insert, deletion and
-- pointer move. Every participant has a row from the moment they are added (seq 0).
CREATE TABLE read_pointers (
    order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    unread     BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, user_id)
);
