// Reactions through the official client: over HTTP and over the add-reaction /
// remove-reaction events, the room hears message-updated with counts and userIds (no
// `mine`: it goes to everyone), the caller's response or ack says `mine`, history shows
// them, one reaction per user per emoji, and refusals come back as error acks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, emitAck, waitFor, history, received, settle, customerAndDriver } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer(); });
after(async () => { await srv?.stop(); });

const scene = () => customerAndDriver(srv);
const reactionPath = (messageId, emoji) =>
  `/api/chat/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`;

test('a reaction over HTTP reaches the room as message-updated; the response says mine', async () => {
  const { orderId, customer, driver, ct, dt } = await scene();
  const customerSock = await srv.connect(ct);
  assert.equal((await emitAck(customerSock, 'join-order-room', orderId)).ok, true);
  const msg = await srv.send(ct, orderId, 'package at the door');
  assert.deepEqual(msg.reactions, []);

  const res = await srv.http('PUT', reactionPath(msg.id, '👍'), dt);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.data.reactions, [{ emoji: '👍', count: 1, userIds: [driver], mine: true }]);
  const updated = await waitFor(customerSock, 'message-updated', (e) => e.message.id === msg.id);
  assert.equal(updated.orderId, orderId);
  assert.deepEqual(updated.message.reactions, [{ emoji: '👍', count: 1, userIds: [driver] }], 'no mine in a room event');

  // The same reaction again: 200, still one, and nothing for the room.
  const updates = () => received(customerSock, 'message-updated', (e) => e.message.id === msg.id).length;
  const before = updates();
  const again = await srv.http('PUT', reactionPath(msg.id, '👍'), dt);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.data.reactions[0].count, 1);
  const removal = await srv.http('DELETE', reactionPath(msg.id, '🎉'), dt);
  assert.equal(removal.status, 200, 'taking back a reaction never given is not an error');
  await settle();
  assert.equal(updates(), before, 'neither announces anything');

  const stored = (await history(srv, ct, orderId)).find((m) => m.id === msg.id);
  assert.deepEqual(stored.reactions, [{ emoji: '👍', count: 1, userIds: [driver], mine: false }], 'customer reads it');
  assert.ok(customer !== driver);
  customerSock.close();
});

test('add-reaction and remove-reaction over the socket: ack with mine, room with counts', async () => {
  const { orderId, customer, driver, ct, dt } = await scene();
  const customerSock = await srv.connect(ct);
  const driverSock = await srv.connect(dt);
  for (const s of [customerSock, driverSock]) assert.equal((await emitAck(s, 'join-order-room', orderId)).ok, true);
  const sent = await emitAck(driverSock, 'send-message', { orderId, message: 'five minutes away' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  assert.deepEqual(sent.message.reactions, []);
  const messageId = sent.message.id;

  const byDriver = await emitAck(driverSock, 'add-reaction', { messageId, emoji: '🚚' });
  assert.equal(byDriver.ok, true, JSON.stringify(byDriver));
  assert.deepEqual(byDriver.message.reactions, [{ emoji: '🚚', count: 1, userIds: [driver], mine: true }]);
  await waitFor(customerSock, 'message-updated', (e) => e.message.id === messageId && e.message.reactions.length === 1);

  const roomHears = waitFor(driverSock, 'message-updated',
    (e) => e.message.id === messageId && e.message.reactions[0]?.count === 2);
  const byCustomer = await emitAck(customerSock, 'add-reaction', { messageId, emoji: '🚚' });
  assert.equal(byCustomer.ok, true, JSON.stringify(byCustomer));
  assert.deepEqual(byCustomer.message.reactions, [{ emoji: '🚚', count: 2, userIds: [driver, customer], mine: true }]);
  const heard = await roomHears;
  assert.deepEqual(heard.message.reactions, [{ emoji: '🚚', count: 2, userIds: [driver, customer] }]);

  // One per user per emoji: a second add by the customer changes nothing.
  const twice = await emitAck(customerSock, 'add-reaction', { messageId, emoji: '🚚' });
  assert.equal(twice.ok, true);
  assert.equal(twice.message.reactions[0].count, 2);

  const removed = await emitAck(driverSock, 'remove-reaction', { messageId, emoji: '🚚' });
  assert.equal(removed.ok, true, JSON.stringify(removed));
  assert.deepEqual(removed.message.reactions, [{ emoji: '🚚', count: 1, userIds: [customer], mine: false }]);
  const afterRemoval = await waitFor(customerSock, 'message-updated',
    (e) => e.message.id === messageId && e.message.reactions[0]?.count === 1);
  assert.deepEqual(afterRemoval.message.reactions[0].userIds, [customer]);

  // History and a catch-up join show it, `mine` for the reader.
  const stored = (await history(srv, dt, orderId)).find((m) => m.id === messageId);
  assert.deepEqual(stored.reactions, [{ emoji: '🚚', count: 1, userIds: [customer], mine: false }]);
  const late = await srv.connect(ct);
  const join = await emitAck(late, 'join-order-room', { orderId, sinceSeq: 0 });
  assert.equal(join.ok, true, JSON.stringify(join));
  assert.deepEqual(join.messages.find((m) => m.id === messageId).reactions,
    [{ emoji: '🚚', count: 1, userIds: [customer], mine: true }]);
  for (const s of [customerSock, driverSock, late]) s.close();
});

test('reaction events are refused like HTTP: bad emoji, outsider, deleted message, bad payload', async () => {
  const { orderId, ct } = await scene();
  const sock = await srv.connect(ct);
  const msg = await srv.send(ct, orderId, 'hello');

  const bad = await emitAck(sock, 'add-reaction', { messageId: msg.id, emoji: 'lol' });
  assert.deepEqual([bad.ok, bad.code], [false, 'invalid_emoji'], JSON.stringify(bad));
  assert.match(bad.error, /emoji/);
  const payload = await emitAck(sock, 'add-reaction', { messageId: msg.id });
  assert.deepEqual([payload.ok, payload.code], [false, 'invalid_field'], JSON.stringify(payload));

  const outsider = await srv.connect(token('outsider-react', 'customer'));
  for (const event of ['add-reaction', 'remove-reaction']) {
    const refused = await emitAck(outsider, event, { messageId: msg.id, emoji: '👍' });
    assert.deepEqual([refused.ok, refused.code], [false, 'message_not_found'], JSON.stringify(refused));
  }

  const deletion = await srv.http('DELETE', `/api/chat/messages/${msg.id}`, ct);
  assert.equal(deletion.status, 200, deletion.text);
  const onTombstone = await emitAck(sock, 'add-reaction', { messageId: msg.id, emoji: '👍' });
  assert.deepEqual([onTombstone.ok, onTombstone.code], [false, 'message_deleted'], JSON.stringify(onTombstone));
  const http = await srv.http('PUT', reactionPath(msg.id, '👍'), ct);
  assert.equal(http.status, 409, http.text);
  assert.equal(http.body.code, 'message_deleted');
  sock.close();
  outsider.close();
});
