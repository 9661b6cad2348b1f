// Concurrency: 20 clients (distinct users, all participants of one order) each send 50
// messages over send-message at the same time. Every ack is ok, the stored seqs are
// exactly 1..1000 with no gap and no duplicate, every message is stored once, and a
// member of the room receives all 1000 new-message events.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, history, eventually } from '../helpers.mjs';

const CLIENTS = 20;
const PER_CLIENT = 50;
const TOTAL = CLIENTS * PER_CLIENT;

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

test(`${CLIENTS} clients × ${PER_CLIENT} concurrent send-message → seqs exactly 1..${TOTAL}`, { timeout: 180_000 }, async () => {
  const orderId = id('busy-order');
  const users = Array.from({ length: CLIENTS }, (_, i) => `sender-${i}`);
  await srv.order(orderId, { ...Object.fromEntries(users.map((u) => [u, 'driver'])), listener: 'customer' });

  const listener = await srv.connect(token('listener', 'customer'));
  assert.equal((await emitAck(listener, 'join-order-room', orderId)).ok, true);
  const seen = new Set();
  let allSeen;
  const everything = new Promise((res) => { allSeen = res; });
  listener.on('new-message', (e) => {
    if (e.orderId !== orderId) return;
    seen.add(e.message.seq);
    if (seen.size === TOTAL) allSeen();
  });

  const sockets = await Promise.all(users.map((u) => srv.connect(token(u, 'driver'))));
  const acks = await Promise.all(sockets.flatMap((s, c) =>
    Array.from({ length: PER_CLIENT }, (_, i) =>
      emitAck(s, 'send-message', { orderId, message: `client ${c} message ${i}`, clientId: `c${c}-m${i}` }, 120_000))));

  const failed = acks.filter((a) => !a.ok);
  assert.deepEqual(failed.slice(0, 3), [], `${failed.length} sends failed`);
  const ackSeqs = acks.map((a) => a.message.seq).sort((a, b) => a - b);
  assert.deepEqual(ackSeqs, Array.from({ length: TOTAL }, (_, i) => i + 1), 'acked seqs are not exactly 1..1000');
  assert.ok(acks.every((a) => a.duplicate === false));

  const stored = await history(srv, token('listener', 'customer'), orderId);
  assert.equal(stored.length, TOTAL);
  assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: TOTAL }, (_, i) => i + 1), 'stored seqs have gaps or duplicates');
  assert.equal(new Set(stored.map((m) => m.id)).size, TOTAL, 'duplicate ids');
  assert.equal(new Set(stored.map((m) => m.message)).size, TOTAL, 'a message was stored twice or lost');
  for (const a of acks) {
    const m = stored[a.message.seq - 1];
    assert.equal(m.id, a.message.id, `seq ${a.message.seq}: the acked message is not the stored one`);
  }

  const order = await srv.http('GET', `/api/orders/${orderId}`, token('platform', 'service'));
  assert.equal(order.body.data.lastSeq, TOTAL);

  let timer;
  await Promise.race([
    everything,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`listener saw ${seen.size} of ${TOTAL} new-message events`)), 30_000); }),
  ]).finally(() => clearTimeout(timer));
  for (const s of [...sockets, listener]) s.close();
});

test('every connection receives an order’s new-message events in seq order, whoever sent them', { timeout: 120_000 }, async () => {
  const orderId = id('ordered-order');
  const users = Array.from({ length: 8 }, (_, i) => `o-sender-${i}`);
  const listeners = ['o-listener-a', 'o-listener-b', 'o-listener-c'];
  await srv.order(orderId, Object.fromEntries([...users, ...listeners].map((u) => [u, 'driver'])));
  // Senders are in the room too: they receive each other's messages and their own.
  const senders = await Promise.all(users.map((u) => srv.connect(token(u, 'driver'))));
  const watchers = await Promise.all(listeners.map((u) => srv.connect(token(u, 'driver'))));
  const everyone = [...senders, ...watchers];
  const arrivals = new Map(everyone.map((s) => [s, []]));
  for (const s of everyone) {
    assert.equal((await emitAck(s, 'join-order-room', orderId)).ok, true);
    s.on('new-message', (e) => { if (e.orderId === orderId) arrivals.get(s).push(e.message.seq); });
  }
  const PER = 40;
  const acks = await Promise.all(senders.flatMap((s, c) =>
    Array.from({ length: PER }, (_, i) => emitAck(s, 'send-message', { orderId, message: `s${c} #${i}` }, 60_000))));
  assert.ok(acks.every((a) => a.ok), 'every send is acknowledged');
  const total = senders.length * PER;
  for (const s of everyone) {
    await eventually(() => arrivals.get(s).length >= total, `${s.label} received all ${total} messages`, 30_000);
    const seqs = arrivals.get(s);
    const outOfOrder = seqs.findIndex((seq, i) => i > 0 && seq <= seqs[i - 1]);
    assert.equal(outOfOrder, -1, `${s.label} received seq ${seqs[outOfOrder]} after ${seqs[outOfOrder - 1]}`);
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1));
  }
  for (const s of everyone) s.close();
});

test('one connection’s messages are stored in the order it sent them, with many in flight', async () => {
  const orderId = id('pipelined-order');
  await srv.order(orderId, { 'fast-typist': 'customer' });
  const s = await srv.connect(token('fast-typist', 'customer'));
  const N = 100;
  // All emitted before any ack comes back.
  const acks = await Promise.all(Array.from({ length: N }, (_, i) =>
    emitAck(s, 'send-message', { orderId, message: `line ${i}` }, 60_000)));
  assert.deepEqual(acks.map((a) => a.message.seq), Array.from({ length: N }, (_, i) => i + 1),
    'the i-th message sent did not get seq i');
  const stored = await history(srv, token('fast-typist', 'customer'), orderId);
  assert.deepEqual(stored.map((m) => m.message), Array.from({ length: N }, (_, i) => `line ${i}`));
  s.close();
});
