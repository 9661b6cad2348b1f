-- Reactions to messages: one row per user and emoji on a message (adding the same one
-- twice changes nothing). The table is the truth; `messages.reactions` is a summary of
-- it as JSON text (`[{"emoji", "userIds"}]`, emojis in order of first use), rewritten in
-- the same transaction as every change, so reading messages (history pages, search,
-- catch-up) needs no query per message. Rows are read back in insertion order
-- (rowid), which gives "first use" without comparing timestamps that may tie.
-- (0005 is kept for attachments, built at the same time.)

ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE reactions (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
