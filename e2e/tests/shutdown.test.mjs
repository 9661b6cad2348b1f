// Graceful shutdown under load: SIGTERM while senders on both transports (HTTP and
// Socket.IO with acks, every send with a unique clientId) are busy. The server must exit
// 0 within a bound, with no panic and no "closed pool" error in its log. After a restart
// on the same data directory: every message answered with success is stored, and every
// stored message was answered with success — a committed request must never be answered
// with a connection reset or a socket close instead. Refusals are fine only when clean
// (connection refused, HTTP 503 `unavailable`, ack `{ ok: false, code: 'unavailable' }`)
// and then nothing may be stored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, token, id, history, sleep, eventually } from '../helpers.mjs';
import { newLedger, startLoad, roleOf } from '../load.mjs';

const EXIT_BOUND_MS = 10_000;
const ENV = { ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '1000000', ORDERCHAT_MESSAGE_BURST: '1000000' };
const USERS = ['driver-1', 'driver-2', 'customer-1', 'customer-2'];
const auditor = token('auditor', 'admin');

test('SIGTERM under load on both transports', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-shutdown-'));
  const orders = [id('term-a'), id('term-b'), id('term-c')];
  const ledger = newLedger(id('t'));
  let first;
  let second;
  try {
    first = await spawnServer(ENV, { dataDir });
    for (const orderId of orders) await first.order(orderId, Object.fromEntries(USERS.map((u) => [u, roleOf(u)])));

    const load = await startLoad(first, ledger, { orders, users: USERS, round: 1, httpSenders: 6, socketSenders: 6, readRatio: 0.1 });
    await eventually(() => load.okCount() >= 20, '20 writes were acknowledged', 20_000);
    await sleep(Math.floor(Math.random() * 300)); // a random moment in the load
    const inFlight = load.inFlight();
    const signalledAt = Date.now();
    first.proc.kill('SIGTERM');
    let timer;
    const exit = await Promise.race([first.exited, new Promise((r) => { timer = setTimeout(r, EXIT_BOUND_MS, null); })]);
    clearTimeout(timer);
    const exitMs = Date.now() - signalledAt;
    if (!exit) first.proc.kill('SIGKILL');
    await first.closed;
    await load.stop();

    const outcomes = {};
    for (const s of ledger.sends) outcomes[`${s.transport} ${s.outcome}`] = (outcomes[`${s.transport} ${s.outcome}`] ?? 0) + 1;
    t.diagnostic(`SIGTERM with ${inFlight} operations in flight; exit ${JSON.stringify(exit)} after ${exitMs} ms; sends: ${JSON.stringify(outcomes)}`);
    const errors = [...new Set(ledger.sends.filter((s) => s.outcome === 'error').map((s) => `${s.transport}: ${s.detail}`))];
    if (errors.length) t.diagnostic(`unclean answers: ${errors.join(' | ')}`);
    assert.ok(inFlight > 0, 'nothing was in flight at SIGTERM: the test did not test shutdown under load');

    second = await spawnServer(ENV, { dataDir });
    const stored = new Map();
    for (const orderId of orders) {
      const messages = await history(second, auditor, orderId);
      assert.deepEqual(messages.map((m) => m.seq), messages.map((_, i) => i + 1), `seqs of ${orderId} are not exactly 1..${messages.length}`);
      for (const m of messages) if (m.clientId) stored.set(m.clientId, m);
    }

    // Each property as its own subtest, so a run reports every one that fails.
    await t.test(`the server exits with code 0 within ${EXIT_BOUND_MS / 1000} s of SIGTERM`, () => {
      assert.deepEqual(exit, { code: 0, signal: null }, exit ? `exit ${JSON.stringify(exit)}` : `still running after ${EXIT_BOUND_MS} ms (killed)`);
    });

    await t.test('its log holds no panic and no "closed pool" error', () => {
      const lines = first.logs().split('\n');
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
    if (second) await second.stop({ removeDataDir: false });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

const describe = (s) => `${s.clientId} over ${s.transport}: ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`;
