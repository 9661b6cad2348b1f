-- The full-text index also indexes each message's order id, so a search inside one
-- order (or across the orders a user takes part in) is narrowed inside the index
-- instead of matching the whole database and filtering afterwards. Queries keep an
-- exact `order_id` filter as well: ids are tokenized like words, so `ord-1` and
-- `ord 1` share tokens. Tombstones stay out of the index, as before.

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;
DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    order_id,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
INSERT INTO messages_fts (messages_fts, rowid, body, order_id)
    SELECT 'delete', rowid, body, order_id FROM messages WHERE deleted = 1;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.deleted = 0 BEGIN
    INSERT INTO messages_fts (rowid, body, order_id) VALUES (new.rowid, new.body, new.order_id);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, order_id)
        SELECT 'delete', old.rowid, old.body, old.order_id WHERE old.deleted = 0;
    INSERT INTO messages_fts (rowid, body, order_id)
        SELECT new.rowid, new.body, new.order_id WHERE new.deleted = 0;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.deleted = 0 BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, order_id)
        VALUES ('delete', old.rowid, old.body, old.order_id);
END;
