-- Orders a user muted (PUT /api/chat/orders/:orderId/mute): no notification about them
-- reaches that user. One row per muted (order, user); unmuting deletes it.
CREATE TABLE mutes (
    order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_id, user_id)
);
