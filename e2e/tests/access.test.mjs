// Access control: a customer who is not a participant of an order (an outsider) gets
// 404 on every HTTP endpoint of that order (the same answer as for an order that does
// not exist), an { ok: false, code: "order_not_found" } ack on every socket event, and
// never receives any of the room's events. Participants, staff and the service may.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, settle, history } from '../helpers.mjs';

let srv;
let orderId, msg, ct, dt, outsider, ot;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
  orderId = id('order');
  const customer = id('cust');
  const driver = id('drv');
  outsider = id('outsider');
  await srv.order(orderId, { [customer]: 'customer', [driver]: 'driver' });
  await srv.order(id('outsiders-own-order'), { [outsider]: 'customer' });
  ct = token(customer, 'customer');
  dt = token(driver, 'driver');
  ot = token(outsider, 'customer');
  msg = await srv.send(ct, orderId, 'private conversation');
});
after(async () => { await srv?.stop(); });

const orderEndpoints = () => [
  ['POST', '/api/chat/messages', { orderId, message: 'let me in' }],
  ['GET', `/api/chat/orders/${orderId}/messages`],
  ['GET', `/api/chat/orders/${orderId}/messages?after=0`],
  ['PATCH', `/api/chat/orders/${orderId}/read`, { seq: 1 }],
  ['GET', `/api/chat/orders/${orderId}/unread-count`],
  ['GET', `/api/chat/orders/${orderId}/messages/search?q=private`],
  ['GET', `/api/chat/orders/${orderId}/participants`],
  ['GET', `/api/orders/${orderId}`],
];

test('an outsider gets 404 order_not_found on every HTTP endpoint of the order', async () => {
  for (const [method, path, body] of orderEndpoints()) {
    const res = await srv.http(method, path, ot, body);
    assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${res.text}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'order_not_found', `${method} ${path}: ${res.text}`);
  }
});

test('for an outsider an existing order looks exactly like a missing one', async () => {
  const missing = id('missing');
  for (const [method, path, body] of orderEndpoints()) {
    const hidden = await srv.http(method, path, ot, body);
    const p = path.replace(orderId, missing);
    const b = body && body.orderId ? { ...body, orderId: missing } : body;
    const absent = await srv.http(method, p, ot, b);
    assert.equal(absent.status, hidden.status, `${method} ${p}`);
    assert.deepEqual(absent.body, hidden.body, `${method}: the answers differ, which tells the order exists`);
  }
});

test('an outsider gets 404 message_not_found when editing, deleting or reacting to the order’s messages', async () => {
  const edit = await srv.http('PATCH', `/api/chat/messages/${msg.id}`, ot, { message: 'defaced' });
  assert.equal(edit.status, 404, edit.text);
  assert.equal(edit.body.code, 'message_not_found');
  const del = await srv.http('DELETE', `/api/chat/messages/${msg.id}`, ot);
  assert.equal(del.status, 404, del.text);
  assert.equal(del.body.code, 'message_not_found');
  for (const method of ['PUT', 'DELETE']) {
    const react = await srv.http(method, `/api/chat/messages/${msg.id}/reactions/${encodeURIComponent('👍')}`, ot);
    assert.equal(react.status, 404, react.text);
    assert.equal(react.body.code, 'message_not_found');
  }
  const stored = await history(srv, ct, orderId);
  assert.equal(stored.find((m) => m.id === msg.id).message, 'private conversation');
  assert.deepEqual(stored.find((m) => m.id === msg.id).reactions, [], 'the outsider reacted');
  assert.equal(stored.length, 1, 'the outsider stored something');
});

test('the order never shows up in the outsider’s chat list or global search', async () => {
  const list = await srv.http('GET', '/api/chat/orders', ot);
  assert.equal(list.status, 200);
  assert.ok(!list.body.data.some((r) => r.orderId === orderId));
  const search = await srv.http('GET', '/api/chat/search?q=private', ot);
  assert.equal(search.status, 200);
  assert.deepEqual(search.body.data, []);
});

test('the outsider’s read pointer attempt left the participants untouched', async () => {
  const parts = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, ct);
  assert.equal(parts.status, 200);
  assert.ok(!parts.body.data.some((p) => p.userId === outsider), 'the outsider became a participant');
});

test('an outsider gets an order_not_found ack on every socket event', async () => {
  const s = await srv.connect(ot);
  const events = [
    ['join-order-room', orderId],
    ['join-order-room', { orderId, sinceSeq: 0 }],
    ['leave-order-room', orderId],
    ['typing-start', orderId],
    ['typing-stop', orderId],
    ['mark-read', orderId],
    ['mark-read', { orderId, seq: 1 }],
    ['send-message', { orderId, message: 'let me in' }],
  ];
  const wrong = [];
  for (const [event, payload] of events) {
    const ack = await emitAck(s, event, payload);
    if (ack.ok !== false || ack.code !== 'order_not_found' || typeof ack.error !== 'string' || ack.messages !== undefined) {
      wrong.push(`${event} ${JSON.stringify(payload)} → ${JSON.stringify(ack)}`);
    }
  }
  assert.deepEqual(wrong, [], 'events not refused with { ok: false, code: "order_not_found" }');
  assert.ok(s.connected);
  assert.equal((await history(srv, ct, orderId)).length, 1, 'the outsider’s send was stored');
  s.close();
});

test('an outsider who tried to join never receives any of the room’s events', async () => {
  const spy = await srv.connect(ot);
  await emitAck(spy, 'join-order-room', orderId);
  await emitAck(spy, 'join-order-room', { orderId, sinceSeq: 0 });

  const customer = await srv.connect(ct);
  const driver = await srv.connect(dt);
  await emitAck(customer, 'join-order-room', orderId);
  await emitAck(driver, 'join-order-room', orderId);

  // Everything that produces a room event, then a barrier on a member.
  await emitAck(customer, 'typing-start', orderId);
  await emitAck(customer, 'typing-stop', orderId);
  const sent = await emitAck(customer, 'send-message', { orderId, message: 'the gate code is 1234' });
  await emitAck(driver, 'mark-read', orderId);
  await srv.http('PATCH', `/api/chat/messages/${sent.message.id}`, ct, { message: 'the gate code is 9999' });
  await emitAck(driver, 'add-reaction', { messageId: sent.message.id, emoji: '👍' });
  await srv.http('DELETE', `/api/chat/messages/${sent.message.id}`, ct);
  await srv.http('PATCH', `/api/orders/${orderId}`, token('platform', 'service'), { status: 'picked_up' });
  await emitAck(driver, 'leave-order-room', orderId);
  await waitFor(customer, 'user-left-order');
  await waitFor(customer, 'order-updated', (e) => e.orderId === orderId);
  await settle();

  const leaked = spy.received.filter((r) => JSON.stringify(r.payload ?? null).includes(orderId));
  assert.deepEqual(leaked.map((r) => r.event), [], 'the outsider received events of the order');
  for (const s of [spy, customer, driver]) s.close();
});

test('participants, staff and the service may read the order’s history', async () => {
  for (const t of [ct, dt, token(id('admin'), 'admin'), token(id('mod'), 'moderator'), token(id('disp'), 'dispatcher'), token('platform', 'service')]) {
    const res = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, t);
    assert.equal(res.status, 200, res.text);
  }
});

test('the service adding a participant opens the chat to them; replacing the list without them closes it', async () => {
  const order = id('order');
  const late = id('late-driver');
  const lt = token(late, 'driver');
  await srv.order(order, { regular: 'customer' });
  assert.equal((await srv.http('GET', `/api/chat/orders/${order}/messages`, lt)).status, 404);

  const added = await srv.http('PATCH', `/api/orders/${order}`, token('platform', 'service'), {
    participants: [{ userId: 'regular', role: 'customer' }, { userId: late, role: 'driver', name: 'Late' }],
  });
  assert.equal(added.status, 200, added.text);
  assert.equal((await srv.http('GET', `/api/chat/orders/${order}/messages`, lt)).status, 200);
  assert.equal((await srv.send(lt, order, 'on my way')).user.id, late);

  await srv.order(order, { regular: 'customer' }); // PUT replaces the participants
  const res = await srv.http('GET', `/api/chat/orders/${order}/messages`, lt);
  assert.equal(res.status, 404, 'a removed participant can still read the chat');
  const s = await srv.connect(lt);
  const ack = await emitAck(s, 'join-order-room', order);
  assert.equal(ack.code, 'order_not_found');
  s.close();
});
