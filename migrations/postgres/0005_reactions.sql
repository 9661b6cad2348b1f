-- Reactions to messages: one row per user and emoji on a message (adding the same one
-- twice changes nothing). The table is the truth; `messages.reactions` is a summary of
-- it as JSON text (`[{"emoji", "userIds"}]`, emojis in order of first use), rewritten in
-- the same transaction as every change, under the message row's lock, so reading
-- messages (history pages, search, catch-up) needs no query per message. `position`
-- gives insertion order (SQLite reads its rowid), so "first use" never depends on
-- timestamps that may tie. (0004 is kept for attachments, built at the same time.)

ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE reactions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    position   BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (message_id, emoji, user_id)
);
