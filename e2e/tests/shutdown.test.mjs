// Graceful shutdown under load: SIGTERM while senders on both transports (HTTP and
// Socket.IO with acks, every send with a unique clientId) are busy. The server must exit
// 0 within a bound, with no panic and no "closed pool" error in its log. After a restart
// on the same data directory: every message answered with success is stored, and every
// stored message was answered with success — a committed request must never be answered
// with a connection reset or a socket close instead. Refusals are fine only when clean
// (connection refused, HTTP 503 `unavailable`, ack `{ ok: false, code: 'unavailable' }`)
// and then nothing may be stored.
//
// SHUTDOWN_ROUNDS (default 3) sets how many servers in a row get SIGTERM under load, each
// on the data directory the previous one left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, token, id, history, sleep, eventually, dropPostgresDatabaseOf } from '../helpers.mjs';
import { newLedger, startLoad, roleOf } from '../load.mjs';
import { Manager } from 'socket.io-client';

const ROUNDS = Number(process.env.SHUTDOWN_ROUNDS || 3);
const EXIT_BOUND_MS = 10_000;
const ENV = { ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '1000000', ORDERCHAT_MESSAGE_BURST: '1000000' };
const USERS = ['driver-1', 'driver-2', 'customer-1', 'customer-2'];
const auditor = token('auditor', 'admin');

test(`${ROUNDS} SIGTERMs under load on both transports`, { timeout: 60_000 + ROUNDS * 20_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-shutdown-'));
  const orders = [id('term-a'), id('term-b'), id('term-c')];
  const ledger = newLedger(id('t'));
  const lives = []; // { round, exit, exitMs, log }
  let last;
  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const srv = await spawnServer(ENV, { dataDir });
      if (round === 1) for (const orderId of orders) await srv.order(orderId, Object.fromEntries(USERS.map((u) => [u, roleOf(u)])));

      const load = await startLoad(srv, ledger, { orders, users: USERS, round, httpSenders: 6, socketSenders: 6, readRatio: 0.1 });
      await eventually(() => load.okCount() >= 20, `round ${round}: 20 writes were acknowledged`, 20_000);
      await sleep(Math.floor(Math.random() * 300)); // a random moment in the load
      const inFlight = load.inFlight();
      const signalledAt = Date.now();
      srv.proc.kill('SIGTERM');
      let timer;
      const exit = await Promise.race([srv.exited, new Promise((r) => { timer = setTimeout(r, EXIT_BOUND_MS, null); })]);
      clearTimeout(timer);
      const exitMs = Date.now() - signalledAt;
      if (!exit) srv.proc.kill('SIGKILL');
      await srv.closed;
      await load.stop();
      lives.push({ round, exit, exitMs, log: srv.logs() });

      const outcomes = {};
      for (const s of ledger.sends.filter((x) => x.round === round)) outcomes[`${s.transport} ${s.outcome}`] = (outcomes[`${s.transport} ${s.outcome}`] ?? 0) + 1;
      t.diagnostic(`round ${round}: SIGTERM with ${inFlight} operations in flight; exit ${JSON.stringify(exit)} after ${exitMs} ms; sends: ${JSON.stringify(outcomes)}`);
      assert.ok(inFlight > 0, `round ${round}: nothing was in flight at SIGTERM, so shutdown under load was not tested`);
    }
    const errors = [...new Set(ledger.sends.filter((s) => s.outcome === 'error').map((s) => `${s.transport}: ${s.detail}`))];
    if (errors.length) t.diagnostic(`unclean answers seen: ${errors.join(' | ')}`);

    last = await spawnServer(ENV, { dataDir });
    const stored = new Map();
    for (const orderId of orders) {
      const messages = await history(last, auditor, orderId);
      assert.deepEqual(messages.map((m) => m.seq), messages.map((_, i) => i + 1), `seqs of ${orderId} are not exactly 1..${messages.length}`);
      for (const m of messages) if (m.clientId) stored.set(m.clientId, m);
    }

    // Each property as its own subtest, so a run reports every one that fails.
    await t.test(`the server exits with code 0 within ${EXIT_BOUND_MS / 1000} s of SIGTERM`, () => {
      const bad = lives.filter((l) => l.exit?.code !== 0 || l.exit?.signal !== null)
        .map((l) => `round ${l.round}: ${l.exit ? `exit ${JSON.stringify(l.exit)}` : `still running after ${EXIT_BOUND_MS} ms (killed)`}`);
      assert.deepEqual(bad, []);
    });

    await t.test('its log holds no panic and no "closed pool" error', () => {
      const lines = lives.flatMap((l) => l.log.split('\n'));
      // A panic's message is on the line after "panicked at".
      const panics = lines.flatMap((l, i) => (l.includes('panicked at') ? [`${l} ${lines[i + 1] ?? ''}`] : []));
      const closedPool = lines.filter((l) => /closed pool/i.test(l));
      assert.deepEqual([...panics.slice(0, 2), ...closedPool.slice(0, 2)], [], `${panics.length} panics and ${closedPool.length} "closed pool" errors in the log`);
    });

    await t.test('every message answered with success (HTTP 201, ack ok) is stored as answered', () => {
      const lost = ledger.sends.filter((s) => s.outcome === 'ok' && !stored.has(s.clientId));
      assert.deepEqual(lost.map(describe).slice(0, 5), [], `${lost.length} acknowledged messages are lost`);
      for (const s of ledger.sends.filter((x) => x.outcome === 'ok')) {
        const m = stored.get(s.clientId);
        assert.deepEqual([m.id, m.seq], [s.id, s.seq], `${s.clientId} was acknowledged as id ${s.id} seq ${s.seq}, stored as id ${m.id} seq ${m.seq}`);
      }
    });

    await t.test('every stored message was answered with success (never a reset or a socket close)', () => {
      const unanswered = ledger.sends.filter((s) => s.outcome === 'error' && stored.has(s.clientId));
      const http = unanswered.filter((s) => s.transport === 'http').length;
      assert.deepEqual(unanswered.map(describe).slice(0, 5), [], `${unanswered.length} messages (${http} HTTP, ${unanswered.length - http} socket) were committed but answered with an error instead of success`);
    });

    await t.test('a clean refusal (connection refused, 503 unavailable, ack unavailable) stored nothing', () => {
      const refusedButStored = ledger.sends.filter((s) => s.outcome === 'refused' && stored.has(s.clientId));
      assert.deepEqual(refusedButStored.map(describe).slice(0, 5), [], `${refusedButStored.length} refused messages are stored`);
    });
  } finally {
    if (last) await last.stop({ removeDataDir: false });
    dropPostgresDatabaseOf(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

const describe = (s) => `${s.clientId} over ${s.transport}: ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`;

test('a Socket.IO connect that arrives while the server drains is refused cleanly, and the server still exits 0', async () => {
  const srv = await spawnServer({ ORDERCHAT_SHUTDOWN_GRACE_SECS: '5' });
  // An Engine.IO connection opened before the SIGTERM; its namespace connect comes after.
  const manager = new Manager(srv.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
  await new Promise((res, rej) => manager.open((err) => (err ? rej(err) : res())));

  // Hold the drain open: an HTTP request whose body never ends is in flight.
  const { hostname, port } = new URL(srv.url);
  const slow = connect(Number(port), hostname);
  await once(slow, 'connect');
  slow.write(`POST /api/chat/messages HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token('slow-sender')}\r\n`
    + 'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"orderId":');
  await sleep(200);

  const stopped = srv.stop({ closeSockets: false });
  await eventually(() => srv.logs().includes('shutting down'), 'the server logged that it is shutting down');
  const socket = manager.socket('/', { auth: { token: token('late-comer') } });
  const refusal = await new Promise((res) => {
    socket.once('connect', () => res('connected'));
    socket.once('connect_error', (err) => res(err.message));
    socket.connect();
  });
  assert.match(refusal, /shutting down/i, `the late connect got: ${refusal}`);
  socket.close();
  slow.destroy();
  manager.engine?.close();
  const { code } = await stopped;
  assert.equal(code, 0);
});
