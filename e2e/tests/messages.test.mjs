// Messages in real time: send-message over Socket.IO (ack shape, the stored Message
// shape, new-message to the whole room including the sender, clientId idempotency on
// the socket and across socket/HTTP, validation errors as acks), staff senderType,
// message-updated / message-deleted after HTTP PATCH / DELETE, order-updated and the
// system message after a service status change, notification to a participant's
// connections that have not joined the room (and not to joined ones or the sender),
// and unread-count pushed to the user's own connections.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, received, settle, history, nameOf, eventually, customerAndDriver } from '../helpers.mjs';

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

const service = token('platform', 'service');
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** A fresh order of a customer and a driver on this file's server. */
const scene = () => customerAndDriver(srv);

async function joined(tok, orderId) {
  const s = await srv.connect(tok);
  const ack = await emitAck(s, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return s;
}

test('send-message acks the stored message and the whole room, sender included, gets new-message', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const driverSock = await joined(dt, orderId);
  const customerSock = await joined(ct, orderId);

  const ack = await emitAck(customerSock, 'send-message', { orderId, message: 'Where are you?' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.duplicate, false);
  const m = ack.message;
  assert.equal(typeof m.id, 'string');
  assert.ok(m.id.length > 0);
  assert.equal(m.orderId, orderId);
  assert.equal(m.seq, 1);
  assert.deepEqual(m.user, { id: customer, name: nameOf(customer), role: 'customer' });
  assert.equal(m.message, 'Where are you?');
  assert.equal(m.messageType, 'text');
  assert.equal(m.senderType, 'user');
  assert.deepEqual(m.attachments, []);
  assert.equal(m.replyTo, null);
  assert.equal(m.clientId, null);
  assert.match(m.createdAt, RFC3339);
  assert.match(m.updatedAt, RFC3339);
  assert.ok(m.createdAt.endsWith('Z'), 'timestamps are UTC');
  assert.equal(m.editedAt, null);
  assert.equal(m.deleted, false);

  for (const s of [driverSock, customerSock]) {
    const ev = await waitFor(s, 'new-message', (e) => e.message.id === m.id);
    assert.equal(ev.orderId, orderId);
    assert.equal(typeof ev.timestamp, 'string');
    assert.deepEqual(ev.message, m);
  }
  driverSock.close();
  customerSock.close();
});

test('the ack of send-message comes after the sender’s own new-message for it, for every message in flight', async () => {
  const { orderId, ct } = await scene();
  const s = await joined(ct, orderId);
  // The ack is sent only once new-message is on its way to the room, and on the same
  // connection it leaves first: when an ack resolves, its new-message has been seen.
  const seenAtAck = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const ack = await emitAck(s, 'send-message', { orderId, message: `in flight ${i}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return received(s, 'new-message', (e) => e.message.id === ack.message.id).length;
  }));
  assert.deepEqual(seenAtAck, Array(100).fill(1));
  s.close();
});

test('seq increases by one per message and replyTo is kept', async () => {
  const { orderId, ct, dt } = await scene();
  const s = await joined(ct, orderId);
  const first = await emitAck(s, 'send-message', { orderId, message: 'first' });
  const second = await srv.send(dt, orderId, 'second (HTTP)', { replyTo: first.message.id });
  const third = await emitAck(s, 'send-message', { orderId, message: 'third' });
  assert.deepEqual([first.message.seq, second.seq, third.message.seq], [1, 2, 3]);
  assert.equal(second.replyTo, first.message.id);
  s.close();
});

test('a participant’s HTTP message reaches the room as new-message', async () => {
  const { orderId, driver, ct, dt } = await scene();
  const s = await joined(ct, orderId);
  const msg = await srv.send(dt, orderId, 'sent with curl');
  const ev = await waitFor(s, 'new-message', (e) => e.message.id === msg.id);
  assert.equal(ev.message.user.id, driver);
  assert.equal(ev.message.message, 'sent with curl');
  s.close();
});

test('a staff member’s message has senderType admin', async () => {
  const { orderId } = await scene();
  const s = await joined(token(id('disp'), 'dispatcher'), orderId);
  const ack = await emitAck(s, 'send-message', { orderId, message: 'Dispatch here' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.message.senderType, 'admin');
  s.close();
});

test('a second send with the same clientId returns the first message and stores no copy', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const watcher = await joined(dt, orderId);
  const s = await joined(ct, orderId);
  const clientId = id('client');
  const first = await emitAck(s, 'send-message', { orderId, message: 'once', clientId });
  assert.equal(first.ok, true);
  assert.equal(first.duplicate, false);
  assert.equal(first.message.clientId, clientId);

  const again = await emitAck(s, 'send-message', { orderId, message: 'once', clientId });
  assert.equal(again.ok, true, JSON.stringify(again));
  assert.equal(again.duplicate, true);
  assert.equal(again.message.id, first.message.id);
  assert.equal(again.message.seq, first.message.seq);

  // The same clientId over HTTP by the same user: 200 with the first message.
  const http = await srv.http('POST', '/api/chat/messages', ct, { orderId, message: 'once', clientId });
  assert.equal(http.status, 200, http.text);
  assert.equal(http.body.data.id, first.message.id);

  // Another user may use the same clientId: that is a new message.
  const other = await srv.http('POST', '/api/chat/messages', dt, { orderId, message: 'mine', clientId });
  assert.equal(other.status, 201, other.text);
  assert.notEqual(other.body.data.id, first.message.id);

  await waitFor(watcher, 'new-message', (e) => e.message.id === other.body.data.id); // barrier
  await settle();
  assert.equal(received(watcher, 'new-message', (e) => e.message.id === first.message.id).length, 1,
    'the room got new-message more than once for one clientId');
  const stored = (await history(srv, ct, orderId)).filter((m) => m.user?.id === customer);
  assert.equal(stored.length, 1);
  watcher.close();
  s.close();
});

test('concurrent sends with one clientId store exactly one message', async () => {
  const { orderId, ct } = await scene();
  const s = await joined(ct, orderId);
  const clientId = id('racing');
  const acks = await Promise.all(Array.from({ length: 10 }, () => emitAck(s, 'send-message', { orderId, message: 'race', clientId })));
  assert.ok(acks.every((a) => a.ok), JSON.stringify(acks));
  assert.equal(new Set(acks.map((a) => a.message.id)).size, 1);
  assert.equal(acks.filter((a) => !a.duplicate).length, 1);
  assert.equal((await history(srv, ct, orderId)).length, 1);
  s.close();
});

test('send-message refuses bad input with the validation codes and keeps the connection', async () => {
  const { orderId, ct } = await scene();
  const s = await joined(ct, orderId);
  const cases = [
    [{ message: 'no order' }, 'invalid_field'],
    [{ orderId, message: '' }, 'message_empty'],
    [{ orderId, message: '  \n\t ' }, 'message_empty'],
    [{ orderId, message: 'x'.repeat(4001) }, 'message_too_long'],
    [{ orderId, message: 'bell \u0007 char' }, 'message_invalid_characters'],
    [{ orderId, message: 'nul \u0000 char' }, 'message_invalid_characters'],
  ];
  const wrong = [];
  for (const [payload, code] of cases) {
    const ack = await emitAck(s, 'send-message', payload);
    if (ack.ok !== false || ack.code !== code || typeof ack.error !== 'string') {
      wrong.push(`${JSON.stringify(payload).slice(0, 60)}: expected ${code}, got ${JSON.stringify(ack).slice(0, 160)}`);
    }
  }
  assert.deepEqual(wrong, []);
  const fine = await emitAck(s, 'send-message', { orderId, message: 'line one\n\tline two' });
  assert.equal(fine.ok, true, JSON.stringify(fine));
  assert.equal(fine.message.message, 'line one\n\tline two');
  assert.equal((await history(srv, ct, orderId)).length, 1, 'a refused message was stored');
  s.close();
});

test('editing a message over HTTP emits message-updated to the room', async () => {
  const { orderId, ct, dt } = await scene();
  const watcher = await joined(dt, orderId);
  const msg = await srv.send(ct, orderId, 'teh typo');
  const res = await srv.http('PATCH', `/api/chat/messages/${msg.id}`, ct, { message: 'the typo' });
  assert.equal(res.status, 200, res.text);
  const ev = await waitFor(watcher, 'message-updated', (e) => e.message.id === msg.id);
  assert.equal(ev.orderId, orderId);
  assert.equal(ev.message.message, 'the typo');
  assert.notEqual(ev.message.editedAt, null);
  assert.equal(ev.message.seq, msg.seq);
  assert.equal(typeof ev.timestamp, 'string');
  watcher.close();
});

test('deleting a message over HTTP emits message-deleted with the tombstone', async () => {
  const { orderId, ct, dt } = await scene();
  const watcher = await joined(dt, orderId);
  const msg = await srv.send(ct, orderId, 'oops, wrong chat');
  const res = await srv.http('DELETE', `/api/chat/messages/${msg.id}`, ct);
  assert.equal(res.status, 200, res.text);
  const ev = await waitFor(watcher, 'message-deleted', (e) => e.message.id === msg.id);
  assert.equal(ev.orderId, orderId);
  assert.equal(ev.message.deleted, true);
  assert.equal(ev.message.message, '');
  assert.equal(ev.message.seq, msg.seq);
  watcher.close();
});

test('a service status change emits order-updated and a system new-message to the room', async () => {
  const { orderId, ct } = await scene();
  const watcher = await joined(ct, orderId);
  const res = await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'in_transit', note: 'Left the depot' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.status, 'in_transit');

  const ev = await waitFor(watcher, 'order-updated', (e) => e.orderId === orderId);
  assert.equal(ev.update.status, 'in_transit');
  assert.equal(ev.update.previousStatus, 'created');
  assert.equal(ev.update.note, 'Left the depot');
  assert.equal(typeof ev.timestamp, 'string');

  const sys = await waitFor(watcher, 'new-message', (e) => e.orderId === orderId && e.message.messageType === 'system');
  assert.equal(sys.message.user, null);
  assert.equal(sys.message.senderType, 'system');
  assert.match(sys.message.message, /Order status changed to in_transit/);
  assert.match(sys.message.message, /\nLeft the depot/);
  watcher.close();
});

test('a participant’s connection outside the room gets a notification; joined connections and the sender do not', async () => {
  const { orderId, ct, dt } = await scene();
  const phone = await srv.connect(dt); // not joined
  const laptop = await joined(dt, orderId); // the same driver, joined
  const sender = await joined(ct, orderId);
  const senderElsewhere = await srv.connect(ct); // the sender's other device, not joined

  const ack = await emitAck(sender, 'send-message', { orderId, message: 'Gate code is 4321' });
  assert.equal(ack.ok, true);
  const note = await waitFor(phone, 'notification', (e) => e.orderId === orderId);
  assert.equal(note.type, 'new-message');
  assert.equal(typeof note.title, 'string');
  assert.equal(typeof note.message, 'string');
  assert.equal(typeof note.timestamp, 'string');
  assert.equal(note.messageId, ack.message.id);
  assert.equal(note.seq, ack.message.seq);

  await waitFor(laptop, 'new-message', (e) => e.message.id === ack.message.id); // barrier
  await settle();
  assert.deepEqual(received(laptop, 'notification'), [], 'a joined connection got a notification');
  assert.deepEqual(received(sender, 'notification'), [], 'the sender got a notification');
  assert.deepEqual(received(senderElsewhere, 'notification'), [], 'the sender’s other device got a notification');
  assert.deepEqual(received(phone, 'new-message'), [], 'a connection outside the room got new-message');
  for (const s of [phone, laptop, sender, senderElsewhere]) s.close();
});

test('a muted order sends its user no notification (unread counts still come); unmuted, it does again', async () => {
  const { orderId, ct, dt } = await scene();
  const phone = await srv.connect(dt); // the driver, not in the room
  const sender = await joined(ct, orderId);
  const mute = await srv.http('PUT', `/api/chat/orders/${orderId}/mute`, dt);
  assert.equal(mute.status, 200, mute.text);
  assert.deepEqual(mute.body.data, { orderId, muted: true });
  assert.equal((await srv.http('PUT', `/api/chat/orders/${orderId}/mute`, dt)).status, 200, 'muting twice is fine');

  const quiet = await emitAck(sender, 'send-message', { orderId, message: 'while muted' });
  await waitFor(phone, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 1);
  await settle();
  assert.deepEqual(received(phone, 'notification'), [], 'a muted order notified its user');

  const unmute = await srv.http('DELETE', `/api/chat/orders/${orderId}/mute`, dt);
  assert.deepEqual(unmute.body.data, { orderId, muted: false });
  const loud = await emitAck(sender, 'send-message', { orderId, message: 'after unmuting' });
  const note = await waitFor(phone, 'notification', (e) => e.orderId === orderId);
  assert.equal(note.messageId, loud.message.id);
  assert.notEqual(note.messageId, quiet.message.id);

  // Only someone who may see the order mutes it.
  const outsider = await srv.http('PUT', `/api/chat/orders/${orderId}/mute`, token(id('cust'), 'customer'));
  assert.equal(outsider.status, 404, outsider.text);
  assert.equal(outsider.body.code, 'order_not_found');
  assert.equal((await srv.http('PUT', `/api/chat/orders/${orderId}/mute`)).status, 401);
  for (const s of [phone, sender]) s.close();
});

test('a burst of messages is coalesced into a few notifications and unread counts that account for every message', async () => {
  const { orderId, ct, dt } = await scene();
  const phone = await srv.connect(dt); // the driver, not looking at the chat
  const sender = await joined(ct, orderId);
  const N = 60;
  const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
    emitAck(sender, 'send-message', { orderId, message: `burst ${i}` }, 30_000)));
  assert.ok(acks.every((a) => a.ok));
  await waitFor(phone, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === N, 15_000);
  const notes = () => received(phone, 'notification', (e) => e.orderId === orderId);
  const total = () => notes().reduce((sum, n) => sum + n.count, 0);
  await eventually(() => total() === N, `the notifications account for all ${N} messages`);
  const last = notes().at(-1);
  assert.equal(last.seq, N, 'the last notification is about the latest message');
  assert.equal(last.message, `burst ${N - 1}`);
  const counts = received(phone, 'unread-count', (e) => e.orderId === orderId);
  assert.ok(notes().length < N / 2, `${notes().length} notifications for ${N} messages: not coalesced`);
  assert.ok(counts.length < N / 2, `${counts.length} unread-count pushes for ${N} messages: not coalesced`);
  const values = counts.map((e) => e.unreadCount);
  assert.deepEqual(values, [...values].sort((a, b) => a - b), 'unread counts went backwards');
  assert.deepEqual(received(sender, 'unread-count', (e) => e.orderId === orderId), [],
    'the sole author of the burst was told their unread count');
  phone.close();
  sender.close();
});

test('a status change notifies participants’ connections outside the room', async () => {
  const { orderId, ct } = await scene();
  const away = await srv.connect(ct);
  const res = await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'delivered' });
  assert.equal(res.status, 200, res.text);
  const note = await waitFor(away, 'notification', (e) => e.orderId === orderId && e.type === 'order-status');
  assert.equal(typeof note.message, 'string');
  away.close();
});

test('outsiders’ connections get no notification for an order', async () => {
  const { orderId, ct, dt } = await scene();
  const outsider = await srv.connect(token(id('stranger'), 'customer'));
  const phone = await srv.connect(dt);
  await srv.send(ct, orderId, 'private');
  await waitFor(phone, 'notification', (e) => e.orderId === orderId); // barrier
  await settle();
  assert.deepEqual(received(outsider, 'notification'), []);
  assert.deepEqual(received(outsider, 'unread-count'), []);
  outsider.close();
  phone.close();
});

test('unread-count is pushed to every connection of the reader when it changes', async () => {
  const { orderId, ct, dt } = await scene();
  const phone = await srv.connect(dt); // not in the room
  const laptop = await joined(dt, orderId);
  await srv.send(ct, orderId, 'one');
  await srv.send(ct, orderId, 'two');
  for (const s of [phone, laptop]) {
    await waitFor(s, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 2);
  }
  const ack = await emitAck(laptop, 'mark-read', orderId);
  assert.equal(ack.unreadCount, 0);
  for (const s of [phone, laptop]) {
    await waitFor(s, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 0);
  }
  // A deleted unread message lowers the count too.
  const msg = await srv.send(ct, orderId, 'three');
  await waitFor(phone, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 1);
  await srv.http('DELETE', `/api/chat/messages/${msg.id}`, ct);
  await waitFor(phone, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 0);
  phone.close();
  laptop.close();
});

test('unread-count is not pushed to the other participants when one of them reads', async () => {
  const { orderId, ct, dt } = await scene();
  await srv.send(ct, orderId, 'for the driver');
  const customerSock = await srv.connect(ct);
  const driverSock = await srv.connect(dt);
  const ack = await emitAck(driverSock, 'mark-read', orderId);
  assert.equal(ack.ok, true);
  await waitFor(driverSock, 'unread-count', (e) => e.orderId === orderId && e.unreadCount === 0);
  await settle();
  assert.deepEqual(received(customerSock, 'unread-count', (e) => e.orderId === orderId), [],
    'the driver read, yet the customer got unread-count');
  customerSock.close();
  driverSock.close();
});
