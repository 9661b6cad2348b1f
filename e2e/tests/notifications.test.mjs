// Stored notifications (GET /api/chat/notifications, PATCH /api/chat/notifications/read):
// a participant who is offline finds a notification after a message; none is stored for
// a user whose connection has the order's room joined; a burst is one notification with
// its count; a muted order stores none; read marking by ids (only the caller's) and by
// `before`, reflected by `?unread=true`; a mention of a participant is stored as
// `mention` (even while they look at the chat); a status change as `order-status`; the
// live `notification` event carries the stored id; cursor pages; every refusal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, settle, eventually, nameOf } from '../helpers.mjs';

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

const service = token('platform', 'service');
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** A fresh order of a customer, a driver and a dispatcher-side helper (`third`). */
async function scene() {
  const orderId = id('order');
  const customer = id('cust');
  const driver = id('drv');
  const third = id('helper');
  await srv.order(orderId, { [customer]: 'customer', [driver]: 'driver', [third]: 'customer' });
  return {
    orderId, customer, driver, third,
    ct: token(customer, 'customer'), dt: token(driver, 'driver'), tt: token(third, 'customer'),
  };
}

async function list(tok, query = '') {
  const res = await srv.http('GET', `/api/chat/notifications${query}`, tok);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** The caller's notifications of one order. */
async function of(tok, orderId, query = '?limit=100') {
  return (await list(tok, query)).data.filter((n) => n.orderId === orderId);
}

/** Waits until the caller has a notification of `orderId` matching `predicate`. */
function stored(tok, orderId, predicate = () => true, what = 'a stored notification') {
  return eventually(async () => (await of(tok, orderId)).find(predicate), what);
}

async function joined(tok, orderId) {
  const s = await srv.connect(tok);
  const ack = await emitAck(s, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

test('an offline participant finds a stored new-message notification; the author gets none', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const sent = await srv.send(ct, orderId, 'Where are you?');
  const note = await stored(dt, orderId, (n) => n.type === 'new-message');
  assert.equal(typeof note.id, 'string');
  assert.equal(note.messageId, sent.id);
  assert.equal(note.seq, sent.seq);
  assert.equal(note.count, 1);
  assert.equal(note.message, 'Where are you?');
  assert.equal(note.title, `New message from ${nameOf(customer)} (order N-${orderId})`);
  assert.equal(note.read, false);
  assert.equal(note.readAt, null);
  assert.match(note.createdAt, RFC3339);
  assert.match(note.updatedAt, RFC3339);
  assert.equal(typeof note.cursor, 'string');
  assert.deepEqual(await of(ct, orderId), [], 'the author was notified of their own message');
});

test('no new-message notification is stored for a user whose connection has the room joined', async () => {
  const { orderId, ct, dt, tt } = await scene();
  const watching = await joined(dt, orderId);
  await srv.send(ct, orderId, 'are you there?');
  await stored(tt, orderId, (n) => n.type === 'new-message', 'the offline third participant is notified'); // barrier
  await settle();
  assert.deepEqual(await of(dt, orderId), [], 'a user looking at the chat got a stored notification');
  // Once they leave the room, the next message is stored for them.
  assert.equal((await emitAck(watching, 'leave-order-room', orderId)).ok, true);
  const later = await srv.send(ct, orderId, 'now?');
  await stored(dt, orderId, (n) => n.type === 'new-message' && n.messageId === later.id);
  watching.close();
});

test('a burst of N messages is one notification with count N, and the live event carries its id', async () => {
  const { orderId, ct, dt } = await scene();
  const phone = await srv.connect(dt); // connected, not looking at the chat
  const sender = await joined(ct, orderId);
  const N = 25;
  const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
    emitAck(sender, 'send-message', { orderId, message: `burst ${i}` }, 30_000)));
  assert.ok(acks.every((a) => a.ok));
  const note = await stored(dt, orderId, (n) => n.count === N, `one notification counts all ${N} messages`);
  const rows = await of(dt, orderId);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(note.seq, N);
  assert.equal(note.message, `burst ${N - 1}`);
  const live = await waitFor(phone, 'notification', (e) => e.orderId === orderId && e.seq === N);
  assert.equal(live.id, note.id, 'the live notification names the stored one');
  // Read, the next message starts a new notification.
  const read = await srv.http('PATCH', '/api/chat/notifications/read', dt, { ids: [note.id] });
  assert.equal(read.body.data.updated, 1, read.text);
  await emitAck(sender, 'send-message', { orderId, message: 'after reading' });
  const fresh = await stored(dt, orderId, (n) => n.id !== note.id, 'a new notification after the read one');
  assert.equal(fresh.count, 1);
  assert.equal(fresh.read, false);
  for (const s of [phone, sender]) s.close();
});

test('a muted order stores no notification for its user', async () => {
  const { orderId, ct, dt, tt } = await scene();
  assert.equal((await srv.http('PUT', `/api/chat/orders/${orderId}/mute`, dt)).status, 200);
  await srv.send(ct, orderId, 'hello @' + 'everyone');
  await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'picked-up' });
  await stored(tt, orderId, (n) => n.type === 'order-status', 'the unmuted participant is notified'); // barrier
  await settle();
  assert.deepEqual(await of(dt, orderId), [], 'a muted order stored a notification');
});

test('read marking by ids touches only the caller’s; by before, everything at or below; unread=true follows', async () => {
  const orders = [await scene(), await scene(), await scene()];
  const driver = id('drv');
  const dt = token(driver, 'driver');
  for (const o of orders) {
    await srv.order(o.orderId, { [o.customer]: 'customer', [driver]: 'driver' });
    await srv.send(o.ct, o.orderId, `in ${o.orderId}`);
  }
  const mine = await eventually(async () => {
    const all = (await list(dt, '?unread=true')).data;
    return all.length === 3 && all;
  }, 'three unread notifications');
  // Newest first.
  assert.deepEqual(mine.map((n) => n.orderId), orders.map((o) => o.orderId).reverse());

  // Another user cannot mark them; unknown ids are ignored.
  const stranger = token(id('cust'), 'customer');
  const theirs = await srv.http('PATCH', '/api/chat/notifications/read', stranger, { ids: mine.map((n) => n.id) });
  assert.equal(theirs.status, 200, theirs.text);
  assert.equal(theirs.body.data.updated, 0);
  assert.equal((await list(dt, '?unread=true')).data.length, 3);

  const byId = await srv.http('PATCH', '/api/chat/notifications/read', dt, { ids: [mine[0].id, 'no-such-id'] });
  assert.equal(byId.status, 200, byId.text);
  assert.equal(byId.body.data.updated, 1);
  const unread = (await list(dt, '?unread=true')).data;
  assert.deepEqual(unread.map((n) => n.id), [mine[1].id, mine[2].id]);
  const all = (await list(dt)).data;
  const first = all.find((n) => n.id === mine[0].id);
  assert.equal(first.read, true);
  assert.match(first.readAt, RFC3339);

  // A message where the notification was read starts a new one; `before` the middle
  // one then marks it and the oldest, not the new one.
  const newer = orders[2];
  await srv.send(newer.ct, newer.orderId, 'one more');
  await eventually(async () => (await list(dt, '?unread=true')).data.length === 3, 'the new message is unread');
  const byCursor = await srv.http('PATCH', '/api/chat/notifications/read', dt, { before: mine[1].cursor });
  assert.equal(byCursor.body.data.updated, 2, byCursor.text);
  const left = (await list(dt, '?unread=true')).data;
  assert.equal(left.length, 1);
  assert.equal(left[0].orderId, newer.orderId);
  const rest = await srv.http('PATCH', '/api/chat/notifications/read', dt, { before: left[0].cursor });
  assert.equal(rest.body.data.updated, 1);
  assert.deepEqual((await list(dt, '?unread=true')).data, []);
  assert.equal((await list(dt, '?unread=false')).data.length, 4);
});

test('pages follow the cursor, newest first, without repeats', async () => {
  const driver = id('drv');
  const dt = token(driver, 'driver');
  const orders = [];
  for (let i = 0; i < 3; i += 1) {
    const o = await scene();
    await srv.order(o.orderId, { [o.customer]: 'customer', [driver]: 'driver' });
    await srv.send(o.ct, o.orderId, `n${i}`);
    orders.push(o.orderId);
    await eventually(async () => (await list(dt)).data.length === i + 1, `notification ${i + 1}`);
  }
  const first = await list(dt, '?limit=2');
  assert.deepEqual(first.data.map((n) => n.orderId), [orders[2], orders[1]]);
  assert.equal(first.meta.hasMore, true);
  assert.equal(first.meta.nextCursor, first.data[1].cursor);
  const second = await list(dt, `?limit=2&cursor=${encodeURIComponent(first.meta.nextCursor)}`);
  assert.deepEqual(second.data.map((n) => n.orderId), [orders[0]]);
  assert.equal(second.meta.hasMore, false);
  const empty = await list(dt, `?cursor=${encodeURIComponent(second.meta.nextCursor)}`);
  assert.deepEqual(empty.data, []);
  assert.deepEqual(empty.meta, { hasMore: false, nextCursor: null });
});

test('a mention of a participant is stored as mention, even while they look at the chat', async () => {
  const { orderId, customer, driver, ct, dt, tt } = await scene();
  const watching = await joined(dt, orderId);
  const byName = await srv.send(ct, orderId, `@${nameOf(driver).toUpperCase()} please call me`);
  const mention = await stored(dt, orderId, (n) => n.type === 'mention', 'a stored mention');
  assert.equal(mention.messageId, byName.id);
  assert.equal(mention.count, 1);
  assert.equal(mention.title, `${nameOf(customer)} mentioned you (order N-${orderId})`);
  const byId = await srv.send(ct, orderId, `and you @${driver}`);
  await stored(dt, orderId, (n) => n.type === 'mention' && n.messageId === byId.id, 'a mention by id');
  // Not a mention: an address, the author, a non-participant.
  await srv.send(ct, orderId, `mail x@${driver} or @${customer} or @nobody`);
  await stored(tt, orderId, (n) => n.type === 'new-message' && n.count === 3, 'the barrier'); // barrier
  await settle();
  const rows = await of(dt, orderId);
  assert.deepEqual(rows.map((n) => n.type), ['mention', 'mention'], JSON.stringify(rows));
  assert.deepEqual(await of(ct, orderId), [], 'the author’s self-mention was stored');
  watching.close();
});

test('an order status change is stored as order-status for every participant', async () => {
  const { orderId, ct, dt } = await scene();
  const res = await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'delivered' });
  assert.equal(res.status, 200, res.text);
  for (const tok of [ct, dt]) {
    const note = await stored(tok, orderId, (n) => n.type === 'order-status', 'an order-status notification');
    assert.equal(note.message, 'Order status changed to delivered');
    assert.equal(note.seq, 1);
  }
  // One per change.
  await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'completed' });
  await eventually(async () => (await of(dt, orderId)).filter((n) => n.type === 'order-status').length === 2,
    'a second order-status notification');
});

test('/metrics counts stored, coalesced and read notifications; expiry is declared at 0', async () => {
  const res = await fetch(`${srv.url}/metrics`);
  const text = await res.text();
  const value = (series) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    assert.ok(line, `${series} is not on /metrics`);
    return Number(line.split(' ').pop());
  };
  // The tests above stored, coalesced and read notifications on this server.
  for (const kind of ['new-message', 'order-status', 'mention']) {
    assert.ok(value(`orderchat_notifications_stored_total{kind="${kind}"}`) > 0, kind);
  }
  assert.ok(value('orderchat_notifications_coalesced_total') > 0);
  assert.ok(value('orderchat_notifications_read_total') > 0);
  assert.equal(value('orderchat_notifications_expired_total'), 0);
});

test('refusals: bad cursor, limit or unread; neither, both or mistyped fields; too many ids; no token', async () => {
  const dt = token(id('drv'), 'driver');
  for (const query of ['?cursor=abc', '?cursor=-1', '?cursor=0', '?limit=0', '?limit=101', '?limit=x', '?unread=yes']) {
    const res = await srv.http('GET', `/api/chat/notifications${query}`, dt);
    assert.equal(res.status, 400, `${query}: ${res.text}`);
    assert.equal(res.body.code, 'invalid_query', query);
    assert.match(res.body.message, /cursor|limit|unread/, query);
  }
  assert.equal((await srv.http('GET', '/api/chat/notifications')).status, 401);

  const bodies = [
    [{}, /give ids/],
    [{ ids: [], before: '1' }, /not both/],
    [{ ids: 'abc' }, /ids/],
    [{ ids: [1] }, /ids\[0\]/],
    [{ before: 5 }, /before/],
    [{ before: 'abc' }, /before/],
    [{ ids: Array.from({ length: 501 }, (_, i) => `n${i}`) }, /at most 500/],
  ];
  for (const [body, message] of bodies) {
    const res = await srv.http('PATCH', '/api/chat/notifications/read', dt, body);
    assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
    assert.equal(res.body.code, 'invalid_field');
    assert.match(res.body.message, message);
  }
  const fine = await srv.http('PATCH', '/api/chat/notifications/read', dt, { ids: Array.from({ length: 500 }, (_, i) => `n${i}`) });
  assert.equal(fine.status, 200, fine.text);
  assert.equal(fine.body.data.updated, 0);
  assert.equal((await srv.http('PATCH', '/api/chat/notifications/read', undefined, { ids: [] })).status, 401);
});
