-- The push webhook's durable outbox (ORDERCHAT_PUSH_WEBHOOK_URL): one row per push to
-- send to a user who had no connection when a message arrived, coalesced per user and
-- order; `idempotency_key` is what the receiver sees. A row that was never attempted
-- (`attempts = 0`) takes newer messages in place (at most one per user and order: the
-- unique index below); once attempted its content is frozen. Only the oldest live row
-- of a user and order is sent, so one is in flight per user and order. Times that the
-- sender compares are unix milliseconds: `due_at_ms` is when the row may be claimed
-- next (its next attempt, or the end of the lease of the sender holding it, so a crash
-- makes it due again). Delivered rows are deleted; `state = 'dead'` rows stay for
-- inspection and are never sent again.
CREATE TABLE push_outbox (
    position     BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    user_id      TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    message_id   TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    count        BIGINT  NOT NULL,
    created_at   TEXT    NOT NULL,
    queued_at_ms BIGINT  NOT NULL,
    due_at_ms    BIGINT  NOT NULL,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    last_error   TEXT
);

CREATE UNIQUE INDEX push_outbox_unsent ON push_outbox (user_id, order_id) WHERE attempts = 0;
CREATE INDEX push_outbox_live ON push_outbox (user_id, order_id, position) WHERE state = 'pending';
CREATE INDEX push_outbox_due ON push_outbox (due_at_ms) WHERE state = 'pending';
