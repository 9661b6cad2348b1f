// Presence across devices: a user with two connections goes online once (on the first)
// and offline once (only after the last closes); the event reaches the rooms of the
// orders the user takes part in and not other rooms; the participants endpoint and the
// join ack's online list follow the same state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, received, settle, eventually, disconnected } from '../helpers.mjs';

/** The server's count of open Socket.IO connections, from /metrics. */
async function connectionsGauge() {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('orderchat_connections '));
  return Number(line.split(' ')[1]);
}

let srv;
before(async () => { srv = await spawnServer(); });
after(async () => { await srv?.stop(); });

async function onlineOf(tok, orderId, userId) {
  const res = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, tok);
  assert.equal(res.status, 200, res.text);
  return res.body.data.find((p) => p.userId === userId)?.online;
}

test('two devices of one user: online once on the first connect, offline only after both disconnect', async () => {
  const orderId = id('order');
  const user = id('driver');
  const watcherId = id('dispatcher-watcher');
  await srv.order(orderId, { [user]: 'driver', [watcherId]: 'customer' });
  const ut = token(user, 'driver');
  const wt = token(watcherId, 'customer');

  const watcher = await srv.connect(wt);
  assert.equal((await emitAck(watcher, 'join-order-room', orderId)).ok, true);

  // First device: online.
  const phone = await srv.connect(ut);
  const online = await waitFor(watcher, 'presence', (e) => e.userId === user && e.online === true);
  assert.equal(typeof online.timestamp, 'string');
  assert.equal(await onlineOf(wt, orderId, user), true);

  // Second device: no second presence event. Barrier: its join reaches the watcher.
  const laptop = await srv.connect(ut);
  assert.equal((await emitAck(laptop, 'join-order-room', orderId)).ok, true);
  await waitFor(watcher, 'user-joined-order', (e) => e.userId === user);
  await settle();
  assert.equal(received(watcher, 'presence', (e) => e.userId === user).length, 1, 'second device announced presence again');

  // First device leaves: still online. Barrier: the server counted the disconnect
  // (it handles disconnects asynchronously), which is when it would announce.
  const before = await connectionsGauge();
  phone.close();
  await disconnected(phone);
  await eventually(async () => (await connectionsGauge()) === before - 1, 'the server handled the disconnect');
  assert.deepEqual(received(watcher, 'presence', (e) => e.userId === user && e.online === false), [],
    'went offline while the laptop is still connected');
  assert.equal(await onlineOf(wt, orderId, user), true);
  const ack = await emitAck(watcher, 'join-order-room', orderId);
  assert.ok(ack.online.includes(user), `join ack online list ${JSON.stringify(ack.online)} lacks ${user}`);

  // Last device leaves: offline, once.
  laptop.close();
  const offline = await waitFor(watcher, 'presence', (e) => e.userId === user && e.online === false);
  assert.equal(typeof offline.timestamp, 'string');
  await eventually(async () => (await onlineOf(wt, orderId, user)) === false, 'participants shows the user offline');
  await settle();
  assert.equal(received(watcher, 'presence', (e) => e.userId === user).length, 2);
  watcher.close();
});

test('presence reaches the rooms of every order the user takes part in, and no other room', async () => {
  const orderA = id('order-a');
  const orderB = id('order-b');
  const elsewhere = id('order-other');
  const user = id('busy-driver');
  const a = id('cust-a');
  const b = id('cust-b');
  const c = id('cust-c');
  await srv.order(orderA, { [user]: 'driver', [a]: 'customer' });
  await srv.order(orderB, { [user]: 'driver', [b]: 'customer' });
  await srv.order(elsewhere, { [c]: 'customer' });

  const sa = await srv.connect(token(a, 'customer'));
  const sb = await srv.connect(token(b, 'customer'));
  const sc = await srv.connect(token(c, 'customer'));
  await emitAck(sa, 'join-order-room', orderA);
  await emitAck(sb, 'join-order-room', orderB);
  await emitAck(sc, 'join-order-room', elsewhere);

  const driver = await srv.connect(token(user, 'driver'));
  await waitFor(sa, 'presence', (e) => e.userId === user && e.online);
  await waitFor(sb, 'presence', (e) => e.userId === user && e.online);
  await settle();
  assert.deepEqual(received(sc, 'presence', (e) => e.userId === user), [], 'presence leaked to an unrelated room');

  driver.close();
  await waitFor(sa, 'presence', (e) => e.userId === user && !e.online);
  await waitFor(sb, 'presence', (e) => e.userId === user && !e.online);
  for (const s of [sa, sb, sc]) s.close();
});

test('participants lists everyone with role, name, online and read pointer', async () => {
  const orderId = id('order');
  const here = id('here');
  const away = id('away');
  await srv.order(orderId, { [here]: 'customer', [away]: 'driver' });
  const ht = token(here, 'customer');
  const s = await srv.connect(ht);
  const res = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, ht);
  assert.equal(res.status, 200, res.text);
  const byId = Object.fromEntries(res.body.data.map((p) => [p.userId, p]));
  assert.deepEqual(Object.keys(byId).sort(), [here, away].sort());
  assert.equal(byId[here].online, true);
  assert.equal(byId[away].online, false);
  assert.equal(byId[away].role, 'driver');
  assert.equal(byId[away].name, `Name ${away}`);
  assert.equal(byId[here].readSeq, 0);
  assert.ok('lastReadAt' in byId[here]);
  s.close();
});

test('a user added to an order is announced there from their next connection on', async () => {
  const [first, second] = [id('order'), id('order')];
  const user = id('driver');
  const watcherId = id('watcher');
  await srv.order(first, { [user]: 'driver' });
  await srv.order(second, { [watcherId]: 'customer' });
  const watcher = await srv.connect(token(watcherId, 'customer'));
  assert.equal((await emitAck(watcher, 'join-order-room', second)).ok, true);

  // Connected once while taking part in the first order only.
  const early = await srv.connect(token(user, 'driver'));
  early.close();
  await disconnected(early);

  await srv.order(second, { [watcherId]: 'customer', [user]: 'driver' });
  const later = await srv.connect(token(user, 'driver'));
  await waitFor(watcher, 'presence', (e) => e.userId === user && e.online === true);
  later.close();
  await waitFor(watcher, 'presence', (e) => e.userId === user && e.online === false);
  watcher.close();
});

test('presence is not announced to orders that are over, and is again once one reopens', async () => {
  const [done, live] = [id('order'), id('order')];
  const user = id('driver');
  const [oldWatcher, liveWatcher] = [id('watcher'), id('watcher')];
  await srv.order(done, { [user]: 'driver', [oldWatcher]: 'customer' }, { status: 'delivered' });
  await srv.order(live, { [user]: 'driver', [liveWatcher]: 'customer' }, { status: 'picked_up' });
  const old = await srv.connect(token(oldWatcher, 'customer'));
  const current = await srv.connect(token(liveWatcher, 'customer'));
  assert.equal((await emitAck(old, 'join-order-room', done)).ok, true);
  assert.equal((await emitAck(current, 'join-order-room', live)).ok, true);

  const first = await srv.connect(token(user, 'driver'));
  await waitFor(current, 'presence', (e) => e.userId === user && e.online === true); // barrier
  await settle();
  assert.deepEqual(received(old, 'presence', (e) => e.userId === user), [],
    'presence was announced to a delivered order');
  first.close();
  await waitFor(current, 'presence', (e) => e.userId === user && e.online === false);

  const reopened = await srv.http('PATCH', `/api/orders/${done}`, token('platform', 'service'), { status: 'returned' });
  assert.equal(reopened.status, 200, reopened.text);
  const again = await srv.connect(token(user, 'driver'));
  await waitFor(old, 'presence', (e) => e.userId === user && e.online === true);
  for (const s of [old, current, again]) s.close();
});
