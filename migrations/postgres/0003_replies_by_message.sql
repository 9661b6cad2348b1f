-- The replies to a message, in seq order (`GET /api/chat/messages/:id/replies`), read
-- off one index. Only replies are indexed.
CREATE INDEX messages_replies ON messages (reply_to, seq) WHERE reply_to IS NOT NULL;
