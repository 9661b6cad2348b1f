-- Uploaded files (POST /api/chat/attachments). The bytes live in the object store
-- (ORDERCHAT_ATTACHMENTS_URL) under a random key; this row says whose upload it is, for
-- which order, what it is, and which message references it. `message_id` is NULL
-- until a message attaches the upload (the message's writer sets it, in the message's
-- own transaction, so an upload is attached at most once); unreferenced rows are
-- deleted with their objects after a while.
CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL,
    uploader_id   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    object_key    TEXT NOT NULL,
    thumbnail_key TEXT,
    message_id    TEXT,
    created_at    TEXT NOT NULL
);
-- A user's uploads of the last day (the daily quota).
CREATE INDEX attachments_by_uploader ON attachments (uploader_id, created_at);
-- Uploads no message took, oldest first (the cleanup).
CREATE INDEX attachments_unreferenced ON attachments (created_at) WHERE message_id IS NULL;
-- The uploads of a message (deleted with it).
CREATE INDEX attachments_by_message ON attachments (message_id) WHERE message_id IS NOT NULL;
