// The message shape the old frontends rely on, through the official client: every
// message object that goes out (send ack, new-message, message-updated,
// message-deleted, join catch-up, HTTP history) has `_id === id`, as the seed docs'
// React example keys messages by `msg._id`; a message id taken back from a client may
// be that `_id`; and a reply's new-message carries the preview of the quoted message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, history, nameOf, customerAndDriver } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer(); });
after(async () => { await srv?.stop(); });

/** A fresh order of a customer and a driver on this file's server. */
const scene = () => customerAndDriver(srv);

function keyedByUnderscoreId(msg, where) {
  assert.equal(typeof msg._id, 'string', `${where}: ${JSON.stringify(msg)}`);
  assert.ok(msg._id.length > 0, where);
  assert.equal(msg._id, msg.id, where);
}

test('like the seed docs’ React example, every message is keyed by msg._id, equal to msg.id', async () => {
  const { orderId, ct, dt } = await scene();
  const customerSock = await srv.connect(ct);
  assert.equal((await emitAck(customerSock, 'join-order-room', orderId)).ok, true);
  // The React example's `messages`: what new-message brings, keyed by `_id`.
  const messages = new Map();
  customerSock.on('new-message', (e) => { keyedByUnderscoreId(e.message, 'new-message'); messages.set(e.message._id, e.message); });

  const ack = await emitAck(customerSock, 'send-message', { orderId, message: 'over the socket' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  keyedByUnderscoreId(ack.message, 'send-message ack');
  const overHttp = await srv.send(dt, orderId, 'over HTTP');
  keyedByUnderscoreId(overHttp, 'POST ack');
  await waitFor(customerSock, 'new-message', (e) => e.message._id === overHttp._id);
  assert.deepEqual([...messages.keys()], [ack.message._id, overHttp._id]);

  for (const m of await history(srv, ct, orderId)) keyedByUnderscoreId(m, 'history');
  const late = await srv.connect(dt);
  const join = await emitAck(late, 'join-order-room', { orderId, sinceSeq: 0 });
  assert.equal(join.ok, true, JSON.stringify(join));
  assert.equal(join.messages.length, 2);
  for (const m of join.messages) keyedByUnderscoreId(m, 'join catch-up');

  // The old frontends edit and delete by `_id`.
  const edit = await srv.http('PATCH', `/api/chat/messages/${overHttp._id}`, dt, { message: 'over HTTP, edited' });
  assert.equal(edit.status, 200, edit.text);
  const updated = await waitFor(customerSock, 'message-updated', (e) => e.message.id === overHttp.id);
  keyedByUnderscoreId(updated.message, 'message-updated');
  const del = await srv.http('DELETE', `/api/chat/messages/${ack.message._id}`, ct);
  assert.equal(del.status, 200, del.text);
  const deleted = await waitFor(customerSock, 'message-deleted', (e) => e.message.id === ack.message.id);
  keyedByUnderscoreId(deleted.message, 'message-deleted');
  customerSock.close();
  late.close();
});

test('a reply’s new-message carries the preview of the quoted message, and history hides it once deleted', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  assert.equal((await emitAck(driverSock, 'join-order-room', orderId)).ok, true);
  const long = `${'ü'.repeat(150)} end`;
  const quoted = await srv.send(ct, orderId, long);

  const ack = await emitAck(driverSock, 'send-message', { orderId, message: 'on my way', replyTo: quoted._id });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const expected = {
    id: quoted.id,
    _id: quoted.id,
    user: { id: customer, name: nameOf(customer), role: 'customer' },
    senderType: 'user',
    message: 'ü'.repeat(140),
    deleted: false,
  };
  const live = await waitFor(driverSock, 'new-message', (e) => e.message.id === ack.message.id);
  assert.equal(live.message.replyTo, quoted.id);
  assert.deepEqual(live.message.replyPreview, expected);
  assert.deepEqual(ack.message.replyPreview, expected);

  const replies = await srv.http('GET', `/api/chat/messages/${quoted._id}/replies`, ct);
  assert.equal(replies.status, 200, replies.text);
  assert.deepEqual(replies.body.data.map((m) => m.id), [ack.message.id]);

  assert.equal((await srv.http('DELETE', `/api/chat/messages/${quoted.id}`, ct)).status, 200);
  const reply = (await history(srv, dt, orderId)).find((m) => m.id === ack.message.id);
  assert.deepEqual(reply.replyPreview, { ...expected, message: null, deleted: true });
  driverSock.close();
});
