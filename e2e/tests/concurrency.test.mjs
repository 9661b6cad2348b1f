// Concurrency: 20 clients (distinct users, all participants of one order) each send 50
// messages over send-message at the same time. Every ack is ok, the stored seqs are
// exactly 1..1000 with no gap and no duplicate, every message is stored once, and a
// member of the room receives all 1000 new-message events.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, history } from '../helpers.mjs';

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
