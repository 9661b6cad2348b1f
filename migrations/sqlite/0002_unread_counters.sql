-- Unread counts kept as counters, so that the cost of a new message does not grow with
-- the order's history: a read pointer row now carries how many messages above it are
-- unread for its user (not their own, not deleted). Triggers keep the counters in the
-- same transaction as the insert or the deletion that changes them; moving the pointer
-- recomputes the count above the new position (see the store). Every participant has a
-- row from the moment they are added (seq 0), so every new message finds them here.

ALTER TABLE read_pointers ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;

UPDATE read_pointers SET unread = (
    SELECT COUNT(*) FROM messages m
    WHERE m.order_id = read_pointers.order_id AND m.seq > read_pointers.seq AND m.deleted = 0
      AND m.user_id IS NOT read_pointers.user_id
);

INSERT INTO read_pointers (order_id, user_id, seq, unread, updated_at)
SELECT p.order_id, p.user_id, 0,
       (SELECT COUNT(*) FROM messages m
        WHERE m.order_id = p.order_id AND m.deleted = 0 AND m.user_id IS NOT p.user_id),
       o.created_at
FROM order_participants p JOIN orders o ON o.id = p.order_id
WHERE true
ON CONFLICT (order_id, user_id) DO NOTHING;

CREATE TRIGGER unread_on_insert AFTER INSERT ON messages WHEN new.deleted = 0 BEGIN
    UPDATE read_pointers SET unread = unread + 1
    WHERE order_id = new.order_id AND user_id IS NOT new.user_id AND seq < new.seq;
END;

CREATE TRIGGER unread_on_delete AFTER UPDATE OF deleted ON messages
WHEN old.deleted = 0 AND new.deleted = 1 BEGIN
    UPDATE read_pointers SET unread = unread - 1
    WHERE order_id = new.order_id AND user_id IS NOT new.user_id AND seq < new.seq AND unread > 0;
END;
