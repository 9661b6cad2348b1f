// Order rooms over Socket.IO: join-order-room (bare string and object payloads, the
// ack's lastSeq/online, sinceSeq catch-up after a reconnect, hasMore past 200),
// leave-order-room, user-joined-order / user-left-order (not to the joiner/leaver),
// typing-start/stop relayed as user-typing to the others only, and mark-read with
// message-read relayed to the others.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { spawnServer, token, id, emitAck, waitFor, received, settle, TIMEOUT, readerReconnectingWhileFlowing, notExactlyOnce, customerAndDriver } from '../helpers.mjs';

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

/** A fresh order with a customer and a driver, both with tokens. */
/** A fresh order of a customer and a driver on this file's server. */
const scene = () => customerAndDriver(srv);

test('a participant joins with a bare orderId and gets lastSeq, no messages and who is online', async () => {
  const { orderId, driver, ct, dt } = await scene();
  await srv.send(ct, orderId, 'one');
  await srv.send(ct, orderId, 'two');
  const driverSock = await srv.connect(dt);
  const customerSock = await srv.connect(ct);

  const ack = await emitAck(customerSock, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.orderId, orderId);
  assert.equal(ack.lastSeq, 2);
  assert.deepEqual(ack.messages, []);
  assert.equal(ack.hasMore, false);
  assert.ok(Array.isArray(ack.online));
  assert.ok(ack.online.includes(driver), `online ${JSON.stringify(ack.online)} lacks the connected driver`);
  driverSock.close();
  customerSock.close();
});

test('an event emitted the moment the connection opens is handled (as frontends do on "connect")', async () => {
  // Each round is a user's first connection, so the server is busy announcing presence
  // when the join arrives; the join must still be answered.
  const lost = [];
  for (let round = 0; round < 10; round++) {
    const { orderId, ct } = await scene();
    const s = await srv.connect(ct);
    try {
      const ack = await emitAck(s, 'join-order-room', orderId);
      if (!ack.ok) lost.push(`round ${round}: ${JSON.stringify(ack)}`);
    } catch (err) {
      lost.push(`round ${round}: ${err.message}`);
    }
    s.close();
  }
  assert.deepEqual(lost, [], 'join-order-room sent right after connect got no ack');
});

test('events emitted the moment many connections open at once are all handled', async () => {
  // As frontends do: emit from inside the 'connect' listener, before the client yields.
  // With many connections opening together the server is busy while each CONNECT goes
  // out, which is when an event could arrive before its handler exists.
  const { orderId } = await scene();
  const sockets = [];
  const acks = await Promise.all(Array.from({ length: 60 }, () => new Promise((resolve) => {
    const staff = token(id('dispatcher'), 'dispatcher'); // staff see every order
    const s = io(srv.url, { auth: { token: staff }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(s);
    s.on('connect_error', (err) => resolve({ ok: false, error: `connect_error: ${err.message}` }));
    s.on('connect', () => {
      s.timeout(TIMEOUT).emit('join-order-room', orderId, (err, ack) => resolve(err ? { ok: false, error: err.message } : ack));
    });
  })));
  for (const s of sockets) s.close();
  const lost = acks.filter((ack) => ack?.ok !== true);
  assert.deepEqual(lost, [], 'join-order-room emitted on connect got no ack');
});

test('the online list leaves out participants with no connection', async () => {
  const { orderId, driver, ct } = await scene();
  const s = await srv.connect(ct);
  const ack = await emitAck(s, 'join-order-room', { orderId });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.ok(!ack.online.includes(driver), `offline driver listed online: ${JSON.stringify(ack.online)}`);
  s.close();
});

test('joining with sinceSeq returns the messages after it, oldest first', async () => {
  const { orderId, ct, dt } = await scene();
  for (const text of ['a', 'b', 'c', 'd']) await srv.send(ct, orderId, text);
  const s = await srv.connect(dt);
  const ack = await emitAck(s, 'join-order-room', { orderId, sinceSeq: 1 });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.deepEqual(ack.messages.map((m) => m.seq), [2, 3, 4]);
  assert.deepEqual(ack.messages.map((m) => m.message), ['b', 'c', 'd']);
  assert.equal(ack.lastSeq, 4);
  assert.equal(ack.hasMore, false);
  s.close();
});

test('after a reconnect, sinceSeq catches up on exactly the messages missed', async () => {
  const { orderId, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  assert.equal((await emitAck(driverSock, 'join-order-room', { orderId, sinceSeq: 0 })).ok, true);
  await srv.send(ct, orderId, 'before the tunnel');
  const seen = await waitFor(driverSock, 'new-message', (e) => e.orderId === orderId);
  const lastSeen = seen.message.seq;
  driverSock.close();

  // While the driver is offline, three messages arrive.
  for (const text of ['missed 1', 'missed 2', 'missed 3']) await srv.send(ct, orderId, text);

  const back = await srv.connect(dt);
  const ack = await emitAck(back, 'join-order-room', { orderId, sinceSeq: lastSeen });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.deepEqual(ack.messages.map((m) => m.message), ['missed 1', 'missed 2', 'missed 3']);
  assert.deepEqual(ack.messages.map((m) => m.seq), [lastSeen + 1, lastSeen + 2, lastSeen + 3]);
  assert.equal(ack.hasMore, false);

  // And the rejoined socket gets live messages again.
  await srv.send(ct, orderId, 'welcome back');
  const live = await waitFor(back, 'new-message', (e) => e.message.message === 'welcome back');
  assert.equal(live.message.seq, lastSeen + 4);
  back.close();
});

test('a client that reconnects while messages flow gets every message exactly once (live or in its sinceSeq catch-up)', async () => {
  const { orderId, customer, driver, ct, dt } = await scene();
  const helper = id('drv');
  await srv.order(orderId, { [customer]: 'customer', [driver]: 'driver', [helper]: 'driver' });
  const { counts, disorder, stored } = await readerReconnectingWhileFlowing({
    writers: [{ srv, tok: dt }, { srv, tok: token(helper, 'driver') }],
    readerNodes: [srv],
    readerTok: ct,
    orderId,
    rounds: 8,
  });
  assert.ok(stored >= 20, `only ${stored} messages flowed`);
  assert.deepEqual(notExactlyOnce(counts, stored), [], 'the reader did not get every message exactly once');
  assert.deepEqual(disorder, [], 'live new-message events out of seq order');
});

test('catch-up returns at most 200 messages and says hasMore', async () => {
  const { orderId, ct, dt } = await scene();
  await Promise.all(Array.from({ length: 205 }, (_, i) => srv.send(ct, orderId, `bulk ${i}`)));
  const s = await srv.connect(dt);
  const ack = await emitAck(s, 'join-order-room', { orderId, sinceSeq: 0 });
  assert.equal(ack.ok, true);
  assert.equal(ack.lastSeq, 205);
  assert.equal(ack.messages.length, 200);
  assert.equal(ack.hasMore, true);
  assert.deepEqual(ack.messages.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
  const rest = await emitAck(s, 'join-order-room', { orderId, sinceSeq: 200 });
  assert.deepEqual(rest.messages.map((m) => m.seq), [201, 202, 203, 204, 205]);
  assert.equal(rest.hasMore, false);
  s.close();
});

test('joining an unknown order is refused with order_not_found', async () => {
  const { ct } = await scene();
  const s = await srv.connect(ct);
  const ack = await emitAck(s, 'join-order-room', id('no-such-order'));
  assert.equal(ack.ok, false);
  assert.equal(ack.code, 'order_not_found');
  assert.equal(typeof ack.error, 'string');
  s.close();
});

test('joining without an orderId is refused with invalid_field', async () => {
  const { ct } = await scene();
  const s = await srv.connect(ct);
  for (const payload of [{}, { sinceSeq: 3 }, '']) {
    const ack = await emitAck(s, 'join-order-room', payload);
    assert.equal(ack.ok, false, `payload ${JSON.stringify(payload)} was accepted`);
    assert.equal(ack.code, 'invalid_field', `payload ${JSON.stringify(payload)}: ${JSON.stringify(ack)}`);
  }
  assert.ok(s.connected, 'bad input must leave the connection up');
  s.close();
});

test('staff may join any order without being a participant', async () => {
  const { orderId } = await scene();
  const s = await srv.connect(token(id('disp'), 'dispatcher'));
  const ack = await emitAck(s, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  s.close();
});

test('the room hears user-joined-order and user-left-order; the joiner and leaver do not', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  await emitAck(driverSock, 'join-order-room', orderId);

  const customerSock = await srv.connect(ct);
  await emitAck(customerSock, 'join-order-room', orderId);
  const joined = await waitFor(driverSock, 'user-joined-order', (e) => e.userId === customer);
  assert.equal(joined.orderId, orderId);
  assert.equal(typeof joined.timestamp, 'string');

  const left = await emitAck(customerSock, 'leave-order-room', orderId);
  assert.deepEqual({ ok: left.ok, orderId: left.orderId }, { ok: true, orderId });
  const leftEv = await waitFor(driverSock, 'user-left-order', (e) => e.userId === customer);
  assert.equal(leftEv.orderId, orderId);

  await settle();
  assert.deepEqual(received(customerSock, 'user-joined-order', (e) => e.userId === customer), []);
  assert.deepEqual(received(customerSock, 'user-left-order'), []);
  driverSock.close();
  customerSock.close();
});

test('after leave-order-room the socket no longer gets the room’s messages', async () => {
  const { orderId, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  const customerSock = await srv.connect(ct);
  await emitAck(driverSock, 'join-order-room', orderId);
  await emitAck(customerSock, 'join-order-room', orderId);
  await emitAck(customerSock, 'leave-order-room', { orderId });

  const ack = await emitAck(driverSock, 'send-message', { orderId, message: 'anyone?' });
  assert.equal(ack.ok, true);
  await waitFor(driverSock, 'new-message', (e) => e.message.id === ack.message.id); // barrier
  await settle();
  assert.deepEqual(received(customerSock, 'new-message'), [], 'left socket still got new-message');
  driverSock.close();
  customerSock.close();
});

test('typing-start/stop reach the others in the room as user-typing, never the typer', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  const customerSock = await srv.connect(ct);
  await emitAck(driverSock, 'join-order-room', orderId);
  await emitAck(customerSock, 'join-order-room', orderId);

  const start = await emitAck(customerSock, 'typing-start', orderId);
  assert.equal(start.ok, true, JSON.stringify(start));
  const on = await waitFor(driverSock, 'user-typing', (e) => e.userId === customer && e.isTyping === true);
  assert.equal(on.orderId, orderId);

  const stop = await emitAck(customerSock, 'typing-stop', orderId);
  assert.equal(stop.ok, true, JSON.stringify(stop));
  const off = await waitFor(driverSock, 'user-typing', (e) => e.userId === customer && e.isTyping === false);
  assert.equal(off.orderId, orderId);

  await settle();
  assert.deepEqual(received(customerSock, 'user-typing'), [], 'the typer got its own user-typing');
  driverSock.close();
  customerSock.close();
});

test('typing-start accepts an object payload too', async () => {
  const { orderId, customer, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  const customerSock = await srv.connect(ct);
  await emitAck(driverSock, 'join-order-room', orderId);
  await emitAck(customerSock, 'join-order-room', orderId);
  assert.equal((await emitAck(customerSock, 'typing-start', { orderId })).ok, true);
  await waitFor(driverSock, 'user-typing', (e) => e.userId === customer && e.isTyping);
  assert.equal((await emitAck(customerSock, 'typing-stop', { orderId })).ok, true);
  await waitFor(driverSock, 'user-typing', (e) => e.userId === customer && !e.isTyping);
  driverSock.close();
  customerSock.close();
});

test('mark-read moves the reader’s pointer, acks the unread count and relays message-read to the others', async () => {
  const { orderId, customer, ct, dt } = await scene();
  for (const text of ['m1', 'm2', 'm3']) await srv.send(dt, orderId, text);
  const driverSock = await srv.connect(dt);
  const customerSock = await srv.connect(ct);
  await emitAck(driverSock, 'join-order-room', orderId);
  await emitAck(customerSock, 'join-order-room', orderId);

  const ack = await emitAck(customerSock, 'mark-read', { orderId, seq: 2 });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.orderId, orderId);
  assert.equal(ack.seq, 2);
  assert.equal(ack.unreadCount, 1);
  const ev = await waitFor(driverSock, 'message-read', (e) => e.userId === customer && e.seq === 2);
  assert.equal(ev.orderId, orderId);
  assert.equal(typeof ev.timestamp, 'string');

  // Bare string: read everything.
  const all = await emitAck(customerSock, 'mark-read', orderId);
  assert.equal(all.ok, true);
  assert.equal(all.seq, 3);
  assert.equal(all.unreadCount, 0);
  await waitFor(driverSock, 'message-read', (e) => e.userId === customer && e.seq === 3);

  await settle();
  assert.deepEqual(received(customerSock, 'message-read'), [], 'the reader got its own message-read');

  // Per-user state: the driver's pointer has not moved (its own messages never count as unread).
  const res = await srv.http('GET', `/api/chat/orders/${orderId}/unread-count`, ct);
  assert.equal(res.body.data.unreadCount, 0);
  const parts = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, dt);
  const byId = Object.fromEntries(parts.body.data.map((p) => [p.userId, p]));
  assert.equal(byId[customer].readSeq, 3);
  driverSock.close();
  customerSock.close();
});

test('events for one order never reach a socket that joined only another order', async () => {
  const a = await scene();
  const b = await scene();
  const inA = await srv.connect(a.dt);
  const inB = await srv.connect(b.dt);
  await emitAck(inA, 'join-order-room', a.orderId);
  await emitAck(inB, 'join-order-room', b.orderId);
  const sender = await srv.connect(a.ct);
  await emitAck(sender, 'join-order-room', a.orderId);
  await emitAck(sender, 'typing-start', a.orderId);
  const ack = await emitAck(sender, 'send-message', { orderId: a.orderId, message: 'for A only' });
  await waitFor(inA, 'new-message', (e) => e.message.id === ack.message.id);
  await settle();
  assert.deepEqual(received(inB, 'new-message'), []);
  assert.deepEqual(received(inB, 'user-typing'), []);
  for (const s of [inA, inB, sender]) s.close();
});

test('a typing-start with no stop expires as isTyping:false after ORDERCHAT_TYPING_TIMEOUT_SECS', async () => {
  const fast = await spawnServer({ ORDERCHAT_TYPING_TIMEOUT_SECS: '1' });
  try {
    const orderId = id('order');
    await fast.order(orderId, { typer: 'customer', watcher: 'driver' });
    const watcher = await fast.connect(token('watcher', 'driver'));
    const typer = await fast.connect(token('typer', 'customer'));
    await emitAck(watcher, 'join-order-room', orderId);
    await emitAck(typer, 'join-order-room', orderId);

    assert.equal((await emitAck(typer, 'typing-start', orderId)).ok, true);
    await waitFor(watcher, 'user-typing', (e) => e.userId === 'typer' && e.isTyping === true);
    const started = Date.now();
    const expired = await waitFor(watcher, 'user-typing', (e) => e.userId === 'typer' && e.isTyping === false);
    const elapsed = Date.now() - started;
    assert.equal(expired.orderId, orderId);
    assert.ok(elapsed >= 500, `isTyping:false came after ${elapsed} ms, before the 1 s timeout`);
    assert.deepEqual(received(typer, 'user-typing'), [], 'the typer got its own user-typing');
  } finally {
    await fast.stop();
  }
});

test('a participant who has not joined the room cannot type in it; nothing is relayed', async () => {
  const { orderId, ct, dt } = await scene();
  const driverSock = await srv.connect(dt);
  await emitAck(driverSock, 'join-order-room', orderId);
  const customerSock = await srv.connect(ct);
  const refused = await emitAck(customerSock, 'typing-start', orderId);
  assert.equal(refused.ok, false, JSON.stringify(refused));
  assert.equal(refused.code, 'invalid_field');
  // Barrier: a message the customer sends over the socket reaches the driver first.
  assert.equal((await emitAck(customerSock, 'send-message', { orderId, message: 'hi' })).ok, true);
  await waitFor(driverSock, 'new-message');
  await settle();
  assert.deepEqual(received(driverSock, 'user-typing'), [], 'typing from outside the room was relayed');
  driverSock.close();
  customerSock.close();
});
