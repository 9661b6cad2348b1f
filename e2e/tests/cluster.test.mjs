// Two nodes acting as one (issue 7, Redis adapter): two `orderchat serve` processes on
// one Redis (ORDERCHAT_REDIS_URL) and one shared database: a PostgreSQL database when
// the suite runs on PostgreSQL (E2E_POSTGRES_URL, see helpers.mjs), else one SQLite file
// (SQLite's file locking makes two local writers safe). Clients
// on node A and node B in one order hear each other's messages (in seq order, also with
// 20 senders on three nodes writing at once, and a reader reconnecting mid-flow gets
// each message exactly once; a burst from one node reaches Redis in commit order, each
// message published once before its ack, with no gap for the other node to fill), typing,
// read receipts, presence, unread counts and notifications; a participant removed on
// node A loses the room on node B at once; /readyz reports Redis. Presence is
// cluster-wide: one `online` at a user's first connection on any node, one `offline`
// at their last, the users of a node killed with SIGKILL go offline within the
// heartbeat expiry, and the connections-per-user limit holds across nodes. Refusals: a Redis
// that does not answer or a URL that is not RESP3 stops the server from starting.
// With Redis down, a node keeps serving its own clients and says so, and fills a gap in
// an order's seqs from the database; when Redis comes back, delivery between the nodes
// resumes by itself, and what the other node's clients missed meanwhile reaches them
// live. An edit or a deletion never reaches a client before the message it changes.
//
// Redis: scripts/test starts one and passes its URL as ORDERCHAT_TEST_REDIS_URL; run
// alone, this file starts its own with scripts/redis. Skipped (with the reason) only if
// redis-server cannot be started.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, token, id, emitAck, waitFor, received, settle, eventually, history, postgresDatabaseFor, dropPostgresDatabaseOf, readerReconnectingWhileFlowing, notExactlyOnce } from '../helpers.mjs';

const REDIS_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/redis');
const NO_LIMITS = { ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' };

/** A private Redis in `dir` (scripts/redis); returns its URL, or throws. */
function startRedis(dir) {
  return execFileSync(REDIS_SCRIPT, ['start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
const stopRedis = (dir) => execFileSync(REDIS_SCRIPT, ['stop', dir], { stdio: 'ignore' });

/** One database for the nodes of a test: PostgreSQL when the suite runs on it. */
function sharedDatabase(dir, file) {
  mkdirSync(dir, { recursive: true });
  return postgresDatabaseFor(dir) ?? `sqlite://${join(dir, file)}`;
}

let redisUrl = process.env.ORDERCHAT_TEST_REDIS_URL;
let ownRedis = null; // the directory of a Redis this file started
let skip = false;
let tmp;
let a; // node A
let b; // node B
let shared; // the environment of A and B (one Redis, one database)

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'orderchat-cluster-'));
  if (!redisUrl) {
    try {
      ownRedis = join(tmp, 'redis');
      redisUrl = startRedis(ownRedis);
    } catch (err) {
      skip = `redis-server could not be started: ${err.stderr || err.message}`;
      return;
    }
  }
  shared = {
    ...NO_LIMITS,
    ORDERCHAT_REDIS_URL: redisUrl,
    ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, 'shared'), 'shared.db'),
    ORDERCHAT_TYPING_TIMEOUT_SECS: '30',
  };
  // One after the other: the first creates the database and runs the migrations.
  a = await spawnServer(shared);
  b = await spawnServer(shared);
});

after(async () => {
  await a?.stop();
  await b?.stop();
  if (ownRedis) stopRedis(ownRedis);
  if (tmp) {
    for (const shared of ['shared', 'restart', 'kill', 'gap', 'return', 'overtake', 'presence-kill', 'presence-stop', 'limit']) dropPostgresDatabaseOf(join(tmp, shared));
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** `test`, skipped with the reason when there is no Redis. */
const clusterTest = (name, fn) => test(name, async (t) => {
  if (skip) { t.skip(skip); return; }
  await fn(t);
});

/** Short presence heartbeats, so a dead node is noticed within about a second. */
const FAST_PRESENCE = { ORDERCHAT_PRESENCE_HEARTBEAT_MS: '200', ORDERCHAT_PRESENCE_EXPIRY_MS: '1000' };

/** A node's count of open Socket.IO connections, from /metrics. */
async function connectionsOf(srv) {
  const text = (await srv.http('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith('orderchat_connections '));
  return Number(line.split(' ')[1]);
}

/** Whether `srv`'s participants endpoint says `userId` is online. */
async function onlineOn(srv, tok, orderId, userId) {
  const res = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, tok);
  assert.equal(res.status, 200, res.text);
  return res.body.data.find((p) => p.userId === userId)?.online;
}

async function joined(srv, tok, orderId) {
  const socket = await srv.connect(tok);
  const ack = await emitAck(socket, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return socket;
}

/**
 * Two nodes (C and D) on a Redis of their own, which the test may stop and start again
 * (`dir`), and on database `name`; an order of ana (joined on C) and dan (joined on D).
 * Runs `use` with them (and `env`, the nodes' environment), then stops the nodes and
 * that Redis.
 */
async function withOwnRedis(name, extraEnv, use) {
  const dir = join(tmp, `redis-${name}`);
  const url = startRedis(dir);
  const env = { ...NO_LIMITS, ...extraEnv, ORDERCHAT_REDIS_URL: url, ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, name), `${name}.db`) };
  const c = await spawnServer(env);
  const d = await spawnServer(env);
  try {
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await c.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    const onC = await joined(c, token(ana), orderId);
    const onD = await joined(d, token(dan, 'driver'), orderId);
    await use({ dir, url, env, c, d, orderId, ana, dan, onC, onD });
  } finally {
    await c.stop();
    await d.stop();
    stopRedis(dir);
  }
}

/** A counter of `srv`'s /metrics (0 while it has not appeared). */
async function counterOf(srv, name) {
  const text = (await srv.http('GET', '/metrics')).text;
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * A subscriber of its own on the nodes' message channel (`orderchat-messages`), as a
 * node's listener sees it: `seqsOf(orderId)` are the seqs published for the order, in
 * the order Redis delivered them. A plain RESP2 connection: every item on it after
 * SUBSCRIBE is `[kind, channel, payload]`, the payload `node \n seq \n orderId \n json`.
 */
async function tapMessages(url) {
  const { hostname, port, protocol } = new URL(url);
  const socket = protocol === 'rediss:'
    ? tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false })
    : tcpConnect({ host: hostname, port: Number(port) });
  const published = [];
  let buffer = Buffer.alloc(0);
  let subscribed;
  const ready = new Promise((res, rej) => { subscribed = res; socket.once('error', rej); });
  // One RESP value at `at`: [value, next offset], or null while it is incomplete.
  const parse = (at) => {
    const eol = buffer.indexOf('\r\n', at);
    if (eol < 0) return null;
    const head = buffer.toString('latin1', at, eol);
    const body = eol + 2;
    if (head[0] === '*') {
      const items = [];
      let next = body;
      for (let i = 0; i < Number(head.slice(1)); i += 1) {
        const item = parse(next);
        if (!item) return null;
        items.push(item[0]);
        next = item[1];
      }
      return [items, next];
    }
    if (head[0] === '$') {
      const end = body + Number(head.slice(1));
      return buffer.length < end + 2 ? null : [buffer.subarray(body, end), end + 2];
    }
    return [head.slice(1), body]; // +simple, :integer, -error
  };
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (let item = parse(0); item; item = parse(0)) {
      buffer = buffer.subarray(item[1]);
      const [kind, , payload] = item[0];
      if (String(kind) === 'subscribe') subscribed();
      if (String(kind) !== 'message') continue;
      const [, seq, orderId] = payload.toString('utf8').split('\n', 3);
      published.push({ orderId, seq: Number(seq) });
    }
  });
  socket.write('*2\r\n$9\r\nSUBSCRIBE\r\n$18\r\norderchat-messages\r\n');
  await ready;
  return {
    seqsOf: (orderId) => published.filter((m) => m.orderId === orderId).map((m) => m.seq),
    close: () => socket.destroy(),
  };
}

clusterTest('both nodes report Redis in /readyz and /metrics', async () => {
  for (const node of [a, b]) {
    const res = await node.http('GET', '/readyz');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { status: 'ready', database: 'ok', redis: 'ok' });
    await eventually(async () => /^orderchat_cluster_redis_up 1$/m.test((await node.http('GET', '/metrics')).text),
      '/metrics says orderchat_cluster_redis_up 1');
    // The counters an operator alerts on exist from the start (0 until something happens).
    const text = (await node.http('GET', '/metrics')).text;
    for (const series of [
      ...['adapter', 'subscription', 'order_change', 'inbound_full', 'outbox_full', 'reorder_full', 'changes_full', 'presence']
        .map((kind) => `orderchat_cluster_errors_total{kind="${kind}"}`),
      'orderchat_cluster_messages_filled_total', 'orderchat_cluster_messages_skipped_total',
      'orderchat_cluster_order_changes_total{direction="sent"}',
    ]) {
      assert.ok(text.split('\n').some((line) => line.startsWith(`${series} `)), `${series} is not on /metrics`);
    }
  }
});

clusterTest('clients on two nodes exchange messages, each receiving every new-message in seq order', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await a.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  const onA = await joined(a, token(ana), orderId);
  const onB = await joined(b, token(dan, 'driver'), orderId);

  const count = 30;
  for (let i = 1; i <= count; i += 1) {
    const [from, label] = i % 2 ? [onA, 'A'] : [onB, 'B'];
    const ack = await emitAck(from, 'send-message', { orderId, message: `m${i} via ${label}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(ack.message.seq, i);
  }
  for (const socket of [onA, onB]) {
    await eventually(() => received(socket, 'new-message', (e) => e.orderId === orderId).length >= count,
      `${socket.label} received all ${count} messages`);
    const seqs = received(socket, 'new-message', (e) => e.orderId === orderId).map((e) => e.message.seq);
    assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i + 1), `${socket.label}: not every message once, in seq order`);
  }
  // An HTTP send on node B reaches the client on node A too.
  const viaHttp = await b.send(token(dan, 'driver'), orderId, 'over HTTP on B');
  const heard = await waitFor(onA, 'new-message', (e) => e.message.id === viaHttp.id);
  assert.equal(heard.message.seq, count + 1);
});

clusterTest('20 senders spread over three nodes write into one order at once: seqs exactly 1..N, and every client on every node receives each new-message once, in seq order', async () => {
  const c = await spawnServer(shared); // a third node on the same Redis and database
  try {
    const nodes = [a, b, c];
    const orderId = id('order');
    const senders = Array.from({ length: 20 }, (_, i) => id(`sender${i}`));
    const readers = nodes.map((_, i) => id(`reader${i}`));
    await a.order(orderId, Object.fromEntries([...senders.map((u) => [u, 'driver']), ...readers.map((u) => [u, 'customer'])]));
    // Every client listens: a reader on each node, and the senders themselves.
    const readerSockets = await Promise.all(readers.map((u, i) => joined(nodes[i], token(u), orderId)));
    const senderSockets = await Promise.all(senders.map((u, i) => joined(nodes[i % nodes.length], token(u, 'driver'), orderId)));

    const perSender = 15;
    const total = senders.length * perSender;
    await Promise.all(senderSockets.map(async (socket, i) => {
      // Each sender's messages all at once: they are stored in the order sent.
      const acks = await Promise.all(Array.from({ length: perSender }, (_, k) =>
        emitAck(socket, 'send-message', { orderId, message: `sender ${i} message ${k}` }, 20_000)));
      for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
      const seqs = acks.map((ack) => ack.message.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `sender ${i}'s messages were stored out of sending order`);
    }));

    const stored = await history(a, token(readers[0]), orderId);
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), 'stored seqs are not exactly 1..N');
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const socket of [...readerSockets, ...senderSockets]) {
      await eventually(() => received(socket, 'new-message', (e) => e.orderId === orderId).length >= total,
        `${socket.label} received all ${total} messages`, 15_000);
    }
    await settle();
    for (const socket of [...readerSockets, ...senderSockets]) {
      const seqs = received(socket, 'new-message', (e) => e.orderId === orderId).map((e) => e.message.seq);
      assert.deepEqual(seqs, expected, `${socket.label}: new-message not exactly once each, in seq order`);
    }
    for (const socket of [...readerSockets, ...senderSockets]) socket.close();
    // Every node published its own messages and received the others'.
    for (const node of nodes) {
      const text = (await node.http('GET', '/metrics')).text;
      for (const name of ['published', 'received']) {
        const m = new RegExp(`^orderchat_cluster_messages_${name}_total (\\d+)$`, 'm').exec(text);
        assert.ok(m && Number(m[1]) > 0, `orderchat_cluster_messages_${name}_total missing or 0:\n${text}`);
      }
    }
  } finally {
    await c.stop();
  }
});

clusterTest('a burst of messages committed on node A goes to Redis in commit order, each published once and acknowledged only after it was, and a client on node B gets every one in seq order without a read from the database', async () => {
  const orderId = id('order');
  const senders = Array.from({ length: 8 }, (_, i) => id(`burst${i}`));
  const reader = id('reader');
  await a.order(orderId, Object.fromEntries([...senders.map((u) => [u, 'driver']), [reader, 'customer']]));
  const onB = await joined(b, token(reader), orderId);
  const senderSockets = await Promise.all(senders.map((u) => joined(a, token(u, 'driver'), orderId)));
  const tap = await tapMessages(redisUrl);
  try {
    const before = {
      published: await counterOf(a, 'orderchat_cluster_messages_published_total'),
      received: await counterOf(b, 'orderchat_cluster_messages_received_total'),
      filled: await counterOf(b, 'orderchat_cluster_messages_filled_total'),
    };
    // Every sender's messages at once, without waiting for acks: node A commits them in
    // batches, and many are queued for Redis while a publish is in flight.
    const perSender = 50;
    const total = senders.length * perSender;
    const acks = await Promise.all(senderSockets.flatMap((socket, i) => Array.from({ length: perSender }, (_, k) =>
      emitAck(socket, 'send-message', { orderId, message: `burst ${i}.${k}` }, 30_000))));
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    assert.deepEqual(acks.map((ack) => ack.message.seq).sort((x, y) => x - y), expected);

    // An ack follows the message's publish: every one is counted by now.
    assert.equal(await counterOf(a, 'orderchat_cluster_messages_published_total') - before.published, total,
      'node A acknowledged messages it had not published (or published some twice)');
    // On the channel: each message once, in commit (= seq) order.
    await eventually(() => tap.seqsOf(orderId).length >= total, `the tap heard all ${total} messages`, 15_000);
    assert.deepEqual(tap.seqsOf(orderId), expected, 'node A published out of commit order, or not exactly once each');

    await eventually(() => received(onB, 'new-message', (e) => e.orderId === orderId).length >= total,
      `the client on node B received all ${total} messages`, 15_000);
    await settle();
    const seqs = received(onB, 'new-message', (e) => e.orderId === orderId).map((e) => e.message.seq);
    assert.deepEqual(seqs, expected, 'the client on node B: not every message once, in seq order');
    assert.equal(await counterOf(b, 'orderchat_cluster_messages_received_total') - before.received, total,
      'node B did not receive every message from Redis exactly once');
    assert.equal(await counterOf(b, 'orderchat_cluster_messages_filled_total') - before.filled, 0,
      'node B had to read messages from the database: one went missing or came out of order');
  } finally {
    tap.close();
    for (const socket of [onB, ...senderSockets]) socket.close();
  }
});

clusterTest('with Redis down, a node that sees a gap in an order reads the missing messages from the database, and a client that moves to a node that is behind gets nothing twice: every client gets every message once, in seq order', async () => {
  await withOwnRedis('gap', {}, async ({ dir, c, d, orderId, ana, dan, onC, onD }) => {
    stopRedis(dir);
    for (const node of [c, d]) {
      await eventually(async () => (await node.http('GET', '/readyz')).body.redis === 'error', 'the node reports Redis down');
    }

    // Each message is published nowhere; a node hears of the other's only through the
    // gap its own next message leaves.
    const send = async (socket, text) => {
      const ack = await emitAck(socket, 'send-message', { orderId, message: text });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      return ack.message.seq;
    };
    assert.equal(await send(onC, 'one, on C'), 1);
    assert.equal(await send(onD, 'two, on D'), 2);
    await waitFor(onD, 'new-message', (e) => e.message.seq === 2);
    assert.equal(await send(onC, 'three, on C'), 3);
    await waitFor(onC, 'new-message', (e) => e.message.seq === 3);
    await settle();
    const seqs = (socket) => received(socket, 'new-message', (e) => e.orderId === orderId).map((e) => e.message.seq);
    assert.deepEqual(seqs(onD), [1, 2], 'the client on D: not every message once, in seq order');
    assert.deepEqual(seqs(onC), [1, 2, 3], 'the client on C: not every message once, in seq order');
    for (const node of [c, d]) {
      await eventually(async () => /^orderchat_cluster_messages_filled_total [1-9]/m.test((await node.http('GET', '/metrics')).text),
        'orderchat_cluster_messages_filled_total counts the message read from the database');
    }

    // Ana has seq 4 from node C, which node D has not heard of, and moves to node D: she
    // does not get 4 again there, and dan, on node D all along, gets it before 5.
    assert.equal(await send(onC, 'four, on C'), 4);
    await waitFor(onC, 'new-message', (e) => e.message.seq === 4);
    onC.close();
    const moved = await d.connect(token(ana));
    const ack = await emitAck(moved, 'join-order-room', { orderId, sinceSeq: 4 });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.deepEqual(ack.messages, []);
    assert.equal(await send(onD, 'five, on D'), 5);
    await waitFor(moved, 'new-message', (e) => e.message.seq === 5);
    await waitFor(onD, 'new-message', (e) => e.message.seq === 5);
    await settle();
    assert.deepEqual(seqs(moved), [5], 'the client that moved to node D got a message it had already had');
    assert.deepEqual(seqs(onD), [1, 2, 3, 4, 5], 'the client on D: not every message once, in seq order');
    moved.close();
    onD.close();
  });
});

/** The kinds and seqs of the message events `socket` received for `orderId`, in arrival order. */
const messageEvents = (socket, orderId) => socket.received
  .filter((r) => ['new-message', 'message-updated', 'message-deleted'].includes(r.event) && r.payload.orderId === orderId)
  .map((r) => `${r.event} ${r.payload.message.seq}`);

clusterTest('messages sent on one node while Redis is down reach the clients on the other node once Redis is back, with no later message to reveal them: each once, in seq order', async () => {
  await withOwnRedis('return', {}, async ({ dir, url, c, d, orderId, onC, onD }) => {
    stopRedis(dir);
    for (const node of [c, d]) {
      await eventually(async () => (await node.http('GET', '/readyz')).body.redis === 'error', 'the node reports Redis down');
    }
    for (const [n, text] of [[1, 'one, on C alone'], [2, 'two, on C alone']]) {
      const ack = await emitAck(onC, 'send-message', { orderId, message: text });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(ack.message.seq, n);
    }
    await waitFor(onC, 'new-message', (e) => e.message.seq === 2);

    // Redis comes back; nobody sends anything more.
    assert.equal(startRedis(dir), url, 'Redis came back on another port');
    await waitFor(onD, 'new-message', (e) => e.orderId === orderId && e.message.seq === 2, 30_000);
    await settle();
    const seqs = (socket) => received(socket, 'new-message', (e) => e.orderId === orderId).map((e) => e.message.seq);
    assert.deepEqual(seqs(onD), [1, 2], 'the client on D: not every message once, in seq order');
    assert.deepEqual(seqs(onC), [1, 2], 'the client on C: not every message once, in seq order');
    await eventually(async () => /^orderchat_cluster_messages_filled_total [1-9]/m.test((await d.http('GET', '/metrics')).text),
      'orderchat_cluster_messages_filled_total counts the messages read from the database');
  });
});

clusterTest('a message edited and deleted at once while it waits behind a gap: every client on both nodes gets new-message before message-updated before message-deleted', async () => {
  await withOwnRedis('overtake', {}, async ({ env, c, d, orderId, ana, onC, onD }) => {
    // A third node on the same database but another Redis (the file's shared one): what
    // it commits reaches neither C nor D through Redis, so it leaves a gap on both.
    const e = await spawnServer({ ...env, ORDERCHAT_REDIS_URL: redisUrl });
    try {
      const at = token(ana);
      assert.equal((await e.send(at, orderId, 'one, on a node C and D do not hear')).seq, 1);
      // Seq 2 waits behind the gap on C and D until they read 1 from the database;
      // meanwhile it is edited and deleted.
      const sent = await emitAck(onC, 'send-message', { orderId, message: 'two, on C' });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      assert.equal(sent.message.seq, 2);
      const edited = await c.http('PATCH', `/api/chat/messages/${sent.message.id}`, at, { message: 'two, edited' });
      assert.equal(edited.status, 200, edited.text);
      const deleted = await c.http('DELETE', `/api/chat/messages/${sent.message.id}`, at);
      assert.equal(deleted.status, 200, deleted.text);

      for (const socket of [onC, onD]) {
        await waitFor(socket, 'new-message', (ev) => ev.message.seq === 2, 15_000);
        await waitFor(socket, 'message-deleted', (ev) => ev.message.id === sent.message.id, 15_000);
      }
      await settle();
      for (const socket of [onC, onD]) {
        assert.deepEqual(messageEvents(socket, orderId),
          ['new-message 1', 'new-message 2', 'message-updated 2', 'message-deleted 2'],
          `${socket.label}: a change reached the client before its message`);
      }
    } finally {
      await e.stop();
    }
  });
});

clusterTest('a client that reconnects to one node or the other while messages flow from both gets every message exactly once (live or in its sinceSeq catch-up)', async () => {
  const orderId = id('order');
  const [reader, w1, w2] = [id('reader'), id('writer'), id('writer')];
  await a.order(orderId, { [reader]: 'customer', [w1]: 'driver', [w2]: 'driver' });
  const { counts, disorder, stored } = await readerReconnectingWhileFlowing({
    writers: [{ srv: a, tok: token(w1, 'driver') }, { srv: b, tok: token(w2, 'driver') }],
    readerNodes: [a, b],
    readerTok: token(reader),
    orderId,
    rounds: 8,
  });
  assert.ok(stored >= 20, `only ${stored} messages flowed`);
  assert.deepEqual(notExactlyOnce(counts, stored), [], 'the reader did not get every message exactly once');
  assert.deepEqual(disorder, [], 'live new-message events out of seq order');
});

clusterTest('typing, read receipts and presence cross nodes', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await b.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  const onA = await joined(a, token(ana), orderId);

  // dan comes online on node B: ana, in the room on node A, hears it.
  const onB = await joined(b, token(dan, 'driver'), orderId);
  await waitFor(onA, 'presence', (e) => e.userId === dan && e.online === true);

  assert.equal((await emitAck(onB, 'typing-start', orderId)).ok, true);
  await waitFor(onA, 'user-typing', (e) => e.userId === dan && e.orderId === orderId && e.isTyping === true);
  assert.equal((await emitAck(onA, 'typing-start', orderId)).ok, true);
  await waitFor(onB, 'user-typing', (e) => e.userId === ana && e.isTyping === true);
  assert.equal((await emitAck(onB, 'typing-stop', orderId)).ok, true);
  await waitFor(onA, 'user-typing', (e) => e.userId === dan && e.isTyping === false);

  const sent = await emitAck(onA, 'send-message', { orderId, message: 'read me' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  await waitFor(onB, 'new-message', (e) => e.message.id === sent.message.id);
  const read = await emitAck(onB, 'mark-read', { orderId, seq: sent.message.seq });
  assert.equal(read.ok, true, JSON.stringify(read));
  const receipt = await waitFor(onA, 'message-read', (e) => e.userId === dan && e.orderId === orderId);
  assert.equal(receipt.seq, sent.message.seq);

  onB.close();
  await waitFor(onA, 'presence', (e) => e.userId === dan && e.online === false);
});

clusterTest('a user-room push (unread-count, notification) reaches a connection on the other node', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await a.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  const phone = await a.connect(token(ana)); // connected on node A, not looking at the chat
  const driver = await joined(b, token(dan, 'driver'), orderId);
  const sent = await emitAck(driver, 'send-message', { orderId, message: 'on my way' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const note = await waitFor(phone, 'notification', (e) => e.orderId === orderId);
  assert.equal(note.seq, sent.message.seq);
  const unread = await waitFor(phone, 'unread-count', (e) => e.orderId === orderId);
  assert.equal(unread.unreadCount, 1);
});

clusterTest('a user looking at the chat on the other node gets no stored notification; one offline does', async () => {
  const orderId = id('order');
  const [ana, dan, eve] = [id('ana'), id('dan'), id('eve')];
  await a.order(orderId, { [ana]: 'customer', [dan]: 'driver', [eve]: 'customer' });
  const dt = token(dan, 'driver');
  const watching = await joined(b, dt, orderId); // dan looks at the chat on node B
  const sender = await joined(a, token(ana), orderId);
  const sent = await emitAck(sender, 'send-message', { orderId, message: 'seen on B?' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const mine = async (srv, tok) => (await srv.http('GET', '/api/chat/notifications', tok)).body.data
    .filter((n) => n.orderId === orderId);
  // Eve, offline, gets one (read from either node): the barrier.
  await eventually(async () => (await mine(b, token(eve))).some((n) => n.messageId === sent.message.id),
    'a stored notification for the offline participant');
  await settle();
  assert.deepEqual(await mine(a, dt), [], 'a user looking at the chat on node B got a stored notification');
  watching.close();
});

clusterTest('a participant removed by PUT on node A loses the room on node B at once', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await a.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  const dt = token(dan, 'driver');
  const onA = await joined(a, token(ana), orderId);
  const onB = await joined(b, dt, orderId);
  // Node B has the order (with dan in it) cached now.
  assert.equal((await emitAck(onB, 'send-message', { orderId, message: 'before' })).ok, true);

  const res = await a.http('PUT', `/api/orders/${orderId}`, token('platform', 'service'),
    { participants: [{ userId: ana, role: 'customer', name: 'Ana' }] });
  assert.equal(res.status, 200, res.text);
  await waitFor(onA, 'user-left-order', (e) => e.userId === dan && e.orderId === orderId);

  // Barrier: ana's own message comes back to her; dan, on node B, gets nothing.
  const after = await emitAck(onA, 'send-message', { orderId, message: 'after the change' });
  assert.equal(after.ok, true, JSON.stringify(after));
  await waitFor(onA, 'new-message', (e) => e.message.id === after.message.id);
  await settle();
  assert.deepEqual(received(onB, 'new-message', (e) => e.message.message === 'after the change'), [],
    'the removed participant on node B still received new messages');
  // And node B treats him as an outsider: its cached copy of the order was replaced.
  for (const [event, payload] of [['send-message', { orderId, message: 'still here?' }], ['join-order-room', orderId]]) {
    const ack = await emitAck(onB, event, payload);
    assert.equal(ack.ok, false, `${event} was accepted on node B: ${JSON.stringify(ack)}`);
    assert.equal(ack.code, 'order_not_found');
  }
  assert.equal((await b.http('GET', `/api/chat/orders/${orderId}/messages`, dt)).status, 404);
});

clusterTest('presence is cluster-wide: one online at the first connection on any node, one offline at the last', async () => {
  const orderId = id('order');
  const [ana, bo, dan] = [id('ana'), id('bo'), id('dan')];
  await a.order(orderId, { [ana]: 'customer', [bo]: 'dispatcher', [dan]: 'driver' });
  const [at, bt, dt] = [token(ana), token(bo, 'dispatcher'), token(dan, 'driver')];
  const onA = await joined(a, at, orderId); // a watcher on each node
  const onB = await joined(b, bt, orderId);
  const presenceOf = (socket) => received(socket, 'presence', (e) => e.userId === dan);

  // First connection, on node A: one `online` for the watchers on both nodes.
  const phone = await a.connect(dt);
  for (const watcher of [onA, onB]) await waitFor(watcher, 'presence', (e) => e.userId === dan && e.online === true);
  // Node B knows without a connection of its own: participants and the join ack.
  await eventually(() => onlineOn(b, bt, orderId, dan), 'node B lists dan online');
  const ack = await emitAck(onB, 'join-order-room', orderId);
  assert.ok(ack.online.includes(dan), `node B's join ack online list ${JSON.stringify(ack.online)} lacks ${dan}`);

  // A second device, on node B: no second `online`. Barrier: its join reaches both.
  const laptop = await joined(b, dt, orderId);
  for (const watcher of [onA, onB]) await waitFor(watcher, 'user-joined-order', (e) => e.userId === dan);
  await settle();
  for (const watcher of [onA, onB]) assert.equal(presenceOf(watcher).length, 1, `${watcher.label} heard dan come online twice`);

  // The phone on node A leaves: dan is still online (on node B). Barrier: node A
  // counted the disconnect, which is when it would announce.
  const before = await connectionsOf(a);
  phone.close();
  await eventually(async () => (await connectionsOf(a)) === before - 1, 'node A handled the disconnect');
  await settle();
  for (const watcher of [onA, onB]) {
    assert.deepEqual(presenceOf(watcher).filter((e) => !e.online), [], `${watcher.label} heard dan go offline while on node B`);
  }
  for (const node of [a, b]) assert.equal(await onlineOn(node, at, orderId, dan), true);

  // The last device, on node B, leaves: one `offline` on both nodes.
  laptop.close();
  for (const watcher of [onA, onB]) await waitFor(watcher, 'presence', (e) => e.userId === dan && e.online === false);
  await settle();
  for (const watcher of [onA, onB]) assert.equal(presenceOf(watcher).length, 2, `${watcher.label}: not exactly one online and one offline`);
  for (const node of [a, b]) await eventually(async () => (await onlineOn(node, at, orderId, dan)) === false, 'dan listed offline');
  onA.close();
  onB.close();
});

clusterTest('a user hopping between nodes: every watcher sees online and offline alternate, ending in the true state', async () => {
  const orderId = id('order');
  const [ana, bo, dan] = [id('ana'), id('bo'), id('dan')];
  await a.order(orderId, { [ana]: 'customer', [bo]: 'dispatcher', [dan]: 'driver' });
  const [at, dt] = [token(ana), token(dan, 'driver')];
  const watchers = [await joined(a, at, orderId), await joined(b, token(bo, 'dispatcher'), orderId)];

  // Close on one node and open on the other at once, eight times: the disconnect and
  // the connect race to Redis.
  let socket = await a.connect(dt);
  for (let i = 0; i < 8; i += 1) {
    socket.close();
    socket = await (i % 2 ? a : b).connect(dt);
  }
  await eventually(() => onlineOn(a, at, orderId, dan), 'node A lists dan online');
  await settle();
  for (const watcher of watchers) {
    const seen = received(watcher, 'presence', (e) => e.userId === dan).map((e) => e.online);
    assert.ok(seen.length >= 1 && seen[0] === true, `${watcher.label}: ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i += 1) {
      assert.notEqual(seen[i], seen[i - 1], `${watcher.label} saw the same state twice in a row: ${JSON.stringify(seen)}`);
    }
    assert.equal(seen.at(-1), true, `${watcher.label} ends with dan offline: ${JSON.stringify(seen)}`);
  }
  for (const node of [a, b]) assert.equal(await onlineOn(node, at, orderId, dan), true);

  socket.close();
  for (const watcher of watchers) {
    await eventually(() => received(watcher, 'presence', (e) => e.userId === dan).at(-1)?.online === false,
      `${watcher.label} hears dan go offline at the end`);
  }
  for (const watcher of watchers) watcher.close();
});

clusterTest('a node killed with SIGKILL: its users go offline for watchers on the other node within the heartbeat expiry', async () => {
  const env = { ...NO_LIMITS, ...FAST_PRESENCE, ORDERCHAT_REDIS_URL: redisUrl, ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, 'presence-kill'), 'presence-kill.db') };
  const doomed = await spawnServer(env);
  const survivor = await spawnServer(env);
  try {
    const orderId = id('order');
    const [watcherId, dan, eve] = [id('watcher'), id('dan'), id('eve')];
    await survivor.order(orderId, { [watcherId]: 'customer', [dan]: 'driver', [eve]: 'driver' });
    const wt = token(watcherId);
    const watcher = await joined(survivor, wt, orderId);

    // dan only on the node that dies; eve on both.
    await doomed.connect(token(dan, 'driver'));
    await doomed.connect(token(eve, 'driver'));
    await survivor.connect(token(eve, 'driver'));
    for (const user of [dan, eve]) await waitFor(watcher, 'presence', (e) => e.userId === user && e.online === true);
    assert.equal(await onlineOn(survivor, wt, orderId, dan), true);

    const killedAt = Date.now();
    await doomed.kill();
    const offline = await waitFor(watcher, 'presence', (e) => e.userId === dan && e.online === false, 8_000);
    assert.equal(typeof offline.timestamp, 'string');
    // Expiry 1 s, then the next sweep (every 0.2 s on the survivor); generous for a busy machine.
    assert.ok(Date.now() - killedAt < 6_000, `offline came ${Date.now() - killedAt} ms after the kill`);
    await settle();
    assert.equal(received(watcher, 'presence', (e) => e.userId === dan && !e.online).length, 1, 'dan went offline more than once');
    assert.deepEqual(received(watcher, 'presence', (e) => e.userId === eve && !e.online), [],
      'eve went offline although she is still connected to the survivor');
    await eventually(async () => (await onlineOn(survivor, wt, orderId, dan)) === false, 'participants lists dan offline');
    assert.equal(await onlineOn(survivor, wt, orderId, eve), true);
    watcher.close();
  } finally {
    await doomed.kill();
    await survivor.stop();
  }
});

clusterTest('a node stopped with SIGTERM: its users go offline for watchers on the other node', async () => {
  const env = { ...NO_LIMITS, ...FAST_PRESENCE, ORDERCHAT_REDIS_URL: redisUrl, ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, 'presence-stop'), 'presence-stop.db') };
  const leaving = await spawnServer(env);
  const staying = await spawnServer(env);
  try {
    const orderId = id('order');
    const [watcherId, dan] = [id('watcher'), id('dan')];
    await staying.order(orderId, { [watcherId]: 'customer', [dan]: 'driver' });
    const watcher = await joined(staying, token(watcherId), orderId);
    await leaving.connect(token(dan, 'driver'));
    await waitFor(watcher, 'presence', (e) => e.userId === dan && e.online === true);

    // The server closes dan's connection itself while it shuts down.
    assert.equal((await leaving.stop({ closeSockets: false })).code, 0);
    await waitFor(watcher, 'presence', (e) => e.userId === dan && e.online === false);
    await settle();
    assert.equal(received(watcher, 'presence', (e) => e.userId === dan && !e.online).length, 1, 'dan went offline more than once');
    watcher.close();
  } finally {
    await leaving.stop();
    await staying.stop();
  }
});

clusterTest('the connections-per-user limit holds across nodes', async () => {
  const env = { ...NO_LIMITS, ORDERCHAT_MAX_CONNECTIONS_PER_USER: '2', ORDERCHAT_REDIS_URL: redisUrl, ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, 'limit'), 'limit.db') };
  const c = await spawnServer(env);
  const d = await spawnServer(env);
  try {
    const ut = token(id('many-tabs'));
    const onC = await c.connect(ut);
    const onD = await d.connect(ut);
    for (const node of [c, d]) {
      const err = await node.connectError(ut);
      assert.match(err.message, /Too many connections: at most 2 per user/);
    }
    assert.ok(onC.connected && onD.connected, 'a refusal dropped an existing connection');
    const someoneElse = await d.connect(token(id('one-tab')));
    assert.ok(someoneElse.connected);

    // A seat freed on node C can be taken on node D (once node C has counted it out).
    onC.close();
    const again = await eventually(async () => d.connect(ut).catch(() => null), 'a freed seat can be taken on the other node');
    assert.ok(again.connected);
    assert.match((await c.connectError(ut)).message, /at most 2 per user/);
    for (const s of [onD, someoneElse, again]) s.close();
  } finally {
    await c.stop();
    await d.stop();
  }
});

clusterTest('the server refuses to start when Redis does not answer or the URL is not RESP3', async () => {
  const port = Number(new URL(redisUrl).port);
  for (const [url, why] of [
    [`redis://127.0.0.1:${port === 1 ? 2 : 1}`, /Redis.*does not answer/],
    [`${redisUrl}?protocol=resp2`, /protocol=resp3/],
    ['http://127.0.0.1:6379', /must start with redis:\/\//],
  ]) {
    await assert.rejects(spawnServer({ ORDERCHAT_REDIS_URL: url }), (err) => {
      assert.match(err.message, /exited early/, err.message);
      assert.match(err.message, why, err.message);
      return true;
    });
  }
});

clusterTest('presence timings that would make live nodes look dead stop the start with the reason', async () => {
  for (const [env, why] of [
    [{ ORDERCHAT_PRESENCE_HEARTBEAT_MS: '1000', ORDERCHAT_PRESENCE_EXPIRY_MS: '1500' },
      /ORDERCHAT_PRESENCE_EXPIRY_MS \(1500\) must be at least twice ORDERCHAT_PRESENCE_HEARTBEAT_MS \(1000\)/],
    [{ ORDERCHAT_PRESENCE_HEARTBEAT_MS: '10' }, /ORDERCHAT_PRESENCE_HEARTBEAT_MS must be at least 50 \(it is 10\)/],
  ]) {
    await assert.rejects(spawnServer({ ORDERCHAT_REDIS_URL: redisUrl, ...env }), (err) => {
      assert.match(err.message, /exited early/, err.message);
      assert.match(err.message, why, err.message);
      return true;
    });
  }
});

clusterTest('with Redis down a node keeps serving its own clients, says so in the logs and in /readyz', async () => {
  // A Redis of its own, so the other tests keep theirs.
  const dir = join(tmp, 'redis-down');
  const url = startRedis(dir);
  const node = await spawnServer({ ...NO_LIMITS, ORDERCHAT_REDIS_URL: url });
  try {
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await node.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    const one = await joined(node, token(ana), orderId);
    const two = await joined(node, token(dan, 'driver'), orderId);
    stopRedis(dir);

    const sent = await emitAck(one, 'send-message', { orderId, message: 'Redis is gone' });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    await waitFor(two, 'new-message', (e) => e.message.id === sent.message.id);
    assert.equal((await emitAck(two, 'typing-start', orderId)).ok, true);
    await waitFor(one, 'user-typing', (e) => e.userId === dan && e.isTyping === true);
    await eventually(() => /Redis unreachable/.test(node.logs()), 'the log says Redis is unreachable');
    // Presence falls back to this node: a new user is admitted and announced here.
    const eve = id('eve');
    await node.http('PUT', `/api/orders/${orderId}`, token('platform', 'service'), {
      participants: [[ana, 'customer'], [dan, 'driver'], [eve, 'driver']].map(([userId, role]) => ({ userId, role })),
    });
    const three = await node.connect(token(eve, 'driver'));
    await waitFor(one, 'presence', (e) => e.userId === eve && e.online === true);
    three.close();
    await waitFor(one, 'presence', (e) => e.userId === eve && e.online === false);

    const ready = await node.http('GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.body, { status: 'degraded', database: 'ok', redis: 'error' });
    await eventually(async () => /^orderchat_cluster_redis_up 0$/m.test((await node.http('GET', '/metrics')).text),
      '/metrics says orderchat_cluster_redis_up 0');
  } finally {
    await node.stop();
    stopRedis(dir);
  }
});

clusterTest('Redis stopped and started again: delivery between the nodes resumes by itself, and presence does not flicker', async () => {
  // Slower heartbeats than FAST_PRESENCE: after Redis returns empty, each node writes its
  // connections back only at its next heartbeat (up to 2 s), so the other node reloads
  // the online set first and must wait (one expiry) before it believes a user left.
  const presence = { ORDERCHAT_PRESENCE_HEARTBEAT_MS: '2000', ORDERCHAT_PRESENCE_EXPIRY_MS: '6000' };
  await withOwnRedis('restart', presence, async ({ dir, url, c, d, orderId, ana, dan, onC, onD }) => {

    stopRedis(dir);
    await eventually(async () => (await c.http('GET', '/readyz')).body.redis === 'error', 'node C reports Redis down');
    // What each node logged before Redis came back (to look only at what follows).
    const before = new Map([c, d].map((srv) => [srv, srv.logs().length]));
    assert.equal(startRedis(dir), url, 'Redis came back on another port');

    // What was sent while Redis was down stayed on its node; once both nodes are back on
    // Redis, every new message crosses again, both ways.
    for (const [from, to, srv] of [[onC, onD, c], [onD, onC, d]]) {
      let n = 0;
      await eventually(async () => {
        n += 1;
        const ack = await emitAck(from, 'send-message', { orderId, message: `${from.label} try ${n}` });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        try {
          await waitFor(to, 'new-message', (e) => e.message.id === ack.message.id, 1000);
          return true;
        } catch {
          return false;
        }
      }, `messages from ${from.label} reach the other node again`, 20_000);
      await eventually(async () => (await srv.http('GET', '/readyz')).body.redis === 'ok', 'readyz says Redis is ok again');
    }
    assert.match(c.logs(), /Redis reachable again/);

    // Presence is cluster-wide again (this Redis lost its data: each node wrote its
    // connections back): a user connecting on node D is announced to, and listed on, node C.
    const eve = id('eve');
    await c.http('PUT', `/api/orders/${orderId}`, token('platform', 'service'), {
      participants: [[ana, 'customer'], [dan, 'driver'], [eve, 'driver']].map(([userId, role]) => ({ userId, role })),
    });
    await eventually(() => onlineOn(c, token(ana), orderId, dan), 'node C lists dan (on node D) online again');
    // Until its next heartbeat a node is out of sync with Redis and announces its own
    // users' changes itself (then only the copy of the node that holds them knows).
    for (const srv of [c, d]) {
      await eventually(() => /cluster presence in sync again|connections written back to Redis/.test(srv.logs().slice(before.get(srv))),
        'both nodes wrote their connections back to Redis');
    }
    const late = await d.connect(token(eve, 'driver'));
    await waitFor(onC, 'presence', (e) => e.userId === eve && e.online === true);
    assert.equal(await onlineOn(c, token(ana), orderId, eve), true);
    late.close();
    await waitFor(onC, 'presence', (e) => e.userId === eve && e.online === false);

    // ana and dan stayed connected throughout: nobody heard either go offline, though
    // this Redis came back empty (scripts/redis keeps no data) and each node reloaded
    // the online set before the other had written its connections back. By now each
    // node has made its second load (one expiry after the first).
    await new Promise((resolve) => setTimeout(resolve, 6500));
    for (const [watcher, user] of [[onC, dan], [onD, ana], [onC, ana], [onD, dan]]) {
      assert.deepEqual(received(watcher, 'presence', (e) => e.userId === user && !e.online), [],
        `${watcher.label} heard ${user} go offline though they never left`);
    }
  });
});

clusterTest('a node killed with SIGKILL mid-traffic: its clients move to the other node, catch up with sinceSeq, and every acknowledged message is stored exactly once', async () => {
  const env = { ...NO_LIMITS, ORDERCHAT_REDIS_URL: redisUrl, ORDERCHAT_DATABASE_URL: sharedDatabase(join(tmp, 'kill'), 'kill.db') };
  const doomed = await spawnServer(env);
  const survivor = await spawnServer(env);
  try {
    const orderId = id('order');
    const [reader, writer, other] = [id('reader'), id('writer'), id('other')];
    await survivor.order(orderId, { [reader]: 'customer', [writer]: 'driver', [other]: 'driver' });
    const tokens = { [reader]: token(reader), [writer]: token(writer, 'driver'), [other]: token(other, 'driver') };

    // The reader and one writer on the node that will die, another writer on the survivor.
    let readerSocket = await joined(doomed, tokens[reader], orderId);
    const seen = new Set(); // seqs the reader got, live or in a catch-up
    const track = (socket) => socket.on('new-message', (e) => { if (e.orderId === orderId) seen.add(e.message.seq); });
    track(readerSocket);

    const acked = new Map(); // clientId → seq
    let unacked = null; // the send the kill cut off, resent later with its clientId
    let n = 0;
    const sendLoop = async (socket, label, shouldStop) => {
      while (!shouldStop()) {
        n += 1;
        const body = { orderId, message: `${label} ${n}`, clientId: `${label}-${n}` };
        const ack = await emitAck(socket, 'send-message', body, 5_000).catch(() => null);
        if (!ack?.ok) { unacked = body; return; }
        acked.set(body.clientId, ack.message.seq);
      }
    };
    let stopOther = false;
    const doomedWriter = await doomed.connect(tokens[writer]);
    const otherWriter = await survivor.connect(tokens[other]);
    const doomedLoop = sendLoop(doomedWriter, 'doomed', () => false);
    const otherLoop = sendLoop(otherWriter, 'other', () => stopOther);

    await eventually(() => acked.size >= 40, '40 messages acknowledged before the kill', 30_000);
    await doomed.kill();
    await doomedLoop; // ends at the first send the dead node cannot answer

    // Both move to the survivor: the writer resends what was cut off, same clientId; the
    // reader re-joins with the last seq it saw, and keeps asking while hasMore.
    const movedWriter = await survivor.connect(tokens[writer]);
    if (unacked) {
      const ack = await emitAck(movedWriter, 'send-message', unacked);
      assert.equal(ack.ok, true, JSON.stringify(ack));
      acked.set(unacked.clientId, ack.message.seq);
    }
    readerSocket = await survivor.connect(tokens[reader]);
    track(readerSocket);
    for (let more = true; more;) {
      const since = Math.max(0, ...seen);
      const ack = await emitAck(readerSocket, 'join-order-room', { orderId, sinceSeq: since });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      for (const m of ack.messages) seen.add(m.seq);
      more = ack.hasMore;
    }
    await sendLoop(movedWriter, 'moved', () => acked.size >= 120);
    stopOther = true;
    await otherLoop;

    // Stored: every acknowledged clientId exactly once, at the seq its ack gave; seqs 1..N.
    const stored = await history(survivor, tokens[reader], orderId);
    const seqs = stored.map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'seqs are not 1..N');
    const byClientId = new Map();
    for (const m of stored) byClientId.set(m.clientId, (byClientId.get(m.clientId) ?? 0) + 1);
    for (const [clientId, seq] of acked) {
      assert.equal(byClientId.get(clientId), 1, `acknowledged ${clientId} stored ${byClientId.get(clientId) ?? 0} times`);
      assert.equal(stored.find((m) => m.clientId === clientId).seq, seq, `${clientId} moved from its acknowledged seq`);
    }
    // The reader missed nothing: live before the kill, catch-up, live after.
    const last = seqs.length;
    await eventually(() => seen.size === last, `the moved reader has all ${last} messages (has ${seen.size})`, 15_000);
    readerSocket.close();
    movedWriter.close();
    otherWriter.close();
  } finally {
    await doomed.kill();
    await survivor.stop();
  }
});
