// Membership changes take effect at once (SPEC §2): when the platform's PUT or PATCH
// removes a participant, that user's open connections leave the order's room, hear
// nothing more of it, and every later socket operation on it is refused exactly like
// an outsider's. Those who stay hear `user-left-order`. Staff keep their access.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, received, settle } from '../helpers.mjs';

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

async function joined(tok, orderId) {
  const socket = await srv.connect(tok);
  const ack = await emitAck(socket, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return socket;
}

/** Asserts the removed user's socket is treated as an outsider's on every event. */
async function refusedLikeAnOutsider(socket, orderId) {
  for (const [event, payload] of [
    ['typing-start', orderId],
    ['typing-stop', orderId],
    ['mark-read', { orderId }],
    ['send-message', { orderId, message: 'still here?' }],
    ['join-order-room', { orderId, sinceSeq: 0 }],
    ['leave-order-room', orderId],
  ]) {
    const ack = await emitAck(socket, event, payload);
    assert.equal(ack.ok, false, `${event} was accepted: ${JSON.stringify(ack)}`);
    assert.equal(ack.code, 'order_not_found', `${event}: ${JSON.stringify(ack)}`);
  }
}

for (const how of ['PUT', 'PATCH']) {
  test(`a participant removed by ${how} loses the live feed of the order at once`, async () => {
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    const at = token(ana);
    const dt = token(dan, 'driver');
    const a = await joined(at, orderId);
    const phone = await joined(dt, orderId);
    const laptop = await joined(dt, orderId);
    // Typing state before the change must not leak either.
    assert.equal((await emitAck(phone, 'typing-start', orderId)).ok, true);
    await waitFor(a, 'user-typing', (e) => e.userId === dan && e.isTyping === true);

    const participants = [{ userId: ana, role: 'customer', name: 'Ana' }];
    const res = how === 'PUT'
      ? await srv.http('PUT', `/api/orders/${orderId}`, token('platform', 'service'), { participants })
      : await srv.http('PATCH', `/api/orders/${orderId}`, token('platform', 'service'), { participants });
    assert.equal(res.status, 200, res.text);

    const left = await waitFor(a, 'user-left-order', (e) => e.userId === dan && e.orderId === orderId);
    assert.equal(typeof left.timestamp, 'string');

    // Barrier: ana's own copy of her message arrives; dan's connections get nothing.
    assert.equal((await emitAck(a, 'send-message', { orderId, message: 'after the change' })).ok, true);
    await waitFor(a, 'new-message', (e) => e.message.message === 'after the change');
    assert.equal((await emitAck(a, 'typing-start', orderId)).ok, true);
    await settle();
    for (const socket of [phone, laptop]) {
      assert.deepEqual(received(socket, 'new-message', (e) => e.orderId === orderId), [],
        'a removed participant still received new messages');
      assert.deepEqual(received(socket, 'user-typing', (e) => e.userId === ana), [],
        'a removed participant still received typing');
      await refusedLikeAnOutsider(socket, orderId);
    }
    const http = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, dt);
    assert.equal(http.status, 404, http.text);
  });
}

test('staff removed from the participant list keep their access', async () => {
  const orderId = id('order');
  const [ana, disp] = [id('ana'), id('disp')];
  await srv.order(orderId, { [ana]: 'customer', [disp]: 'dispatcher' });
  const a = await joined(token(ana), orderId);
  const d = await joined(token(disp, 'dispatcher'), orderId);
  await srv.order(orderId, { [ana]: 'customer' });
  assert.equal((await emitAck(a, 'send-message', { orderId, message: 'still seen by staff' })).ok, true);
  await waitFor(d, 'new-message', (e) => e.message.message === 'still seen by staff');
  assert.equal((await emitAck(d, 'typing-start', orderId)).ok, true);
  assert.deepEqual(received(a, 'user-left-order', (e) => e.userId === disp), []);
});

test('a participant added later can join, and one removed and re-added can join again', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await srv.order(orderId, { [ana]: 'customer' });
  const d = await srv.connect(token(dan, 'driver'));
  assert.equal((await emitAck(d, 'join-order-room', orderId)).code, 'order_not_found');
  await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  assert.equal((await emitAck(d, 'join-order-room', orderId)).ok, true);
  await srv.order(orderId, { [ana]: 'customer' });
  assert.equal((await emitAck(d, 'typing-start', orderId)).code, 'order_not_found');
  await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  assert.equal((await emitAck(d, 'join-order-room', orderId)).ok, true);
  assert.equal((await emitAck(d, 'typing-start', orderId)).ok, true);
});
