// Crash safety: rounds of `kill -9` at a random moment while senders on both transports
// (HTTP and Socket.IO with acks, every send with a unique clientId) write to a few
// orders and move read pointers. After each kill a new server on the same data directory
// must show: every acknowledged message with the id and seq it was acknowledged with;
// per order, seqs exactly 1..N; no clientId twice; every acknowledged read pointer at
// least where it was acknowledged. Then every unacknowledged send is retried with its
// clientId, and each clientId must be stored exactly once.
//
// CRASH_ROUNDS (default 3) sets the number of kills; `CRASH_ROUNDS=50` is the long run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, token, id, history, sleep, eventually, dropPostgresDatabaseOf } from '../helpers.mjs';
import { newLedger, startLoad, httpSend, socketSend, roleOf } from '../load.mjs';

const ROUNDS = Number(process.env.CRASH_ROUNDS || 3);
const ENV = { ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '1000000', ORDERCHAT_MESSAGE_BURST: '1000000' };
const USERS = ['driver-1', 'driver-2', 'customer-1', 'customer-2'];
const auditor = token('auditor', 'admin');

test(`${ROUNDS} rounds of kill -9 under load on both transports lose no acknowledged write`, { timeout: 60_000 + ROUNDS * 20_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-crash-'));
  const orders = [id('crash-a'), id('crash-b'), id('crash-c')];
  const ledger = newLedger(id('c'));
  let srv = await spawnServer(ENV, { dataDir });
  try {
    for (const orderId of orders) await srv.order(orderId, Object.fromEntries(USERS.map((u) => [u, roleOf(u)])));

    for (let round = 1; round <= ROUNDS; round += 1) {
      const load = await startLoad(srv, ledger, { orders, users: USERS, round });
      // Let the load get going (some writes acknowledged), then kill at a random moment.
      const floor = load.okCount() + 5;
      await eventually(() => load.okCount() >= floor, `round ${round}: 5 writes were acknowledged`, 20_000);
      const delay = Math.floor(Math.random() * 800);
      await sleep(delay);
      const inFlight = load.inFlight();
      await srv.kill();
      await load.stop();

      srv = await spawnServer(ENV, { dataDir });
      const thisRound = ledger.sends.filter((s) => s.round === round);
      const unacked = thisRound.filter((s) => s.outcome !== 'ok');
      const storedAnyway = await verify(srv, orders, ledger, `after kill ${round}`);
      t.diagnostic(`round ${round}: killed ${delay} ms after 5 acks with ${inFlight} operations in flight; ` +
        `${thisRound.length} sends (${unacked.length} unacknowledged, ${storedAnyway} of them stored anyway), ` +
        `${ledger.reads.filter((r) => r.round === round && r.outcome === 'ok').length} acknowledged mark-reads`);

      await retryUnacknowledged(srv, unacked, ledger);
      await verify(srv, orders, ledger, `after the retries of round ${round}`, { complete: true });
    }
  } finally {
    await srv.stop({ removeDataDir: false });
    dropPostgresDatabaseOf(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/**
 * Checks the database (through a restarted server) against what clients were told.
 * Returns how many sends that got no success answer are stored nonetheless. With
 * `complete`, every send ever made must be stored exactly once.
 */
async function verify(srv, orders, ledger, when, { complete = false } = {}) {
  const stored = new Map(); // clientId → message
  for (const orderId of orders) {
    const messages = await history(srv, auditor, orderId);
    assert.deepEqual(messages.map((m) => m.seq), messages.map((_, i) => i + 1), `${when}: seqs of ${orderId} are not exactly 1..${messages.length}`);
    assert.equal(new Set(messages.map((m) => m.id)).size, messages.length, `${when}: duplicate message ids in ${orderId}`);
    for (const m of messages) {
      if (m.clientId === null || m.clientId === undefined) continue;
      assert.ok(!stored.has(m.clientId), `${when}: clientId ${m.clientId} is stored twice (seqs ${stored.get(m.clientId)?.seq} and ${m.seq})`);
      stored.set(m.clientId, m);
    }
  }

  const known = new Map(ledger.sends.map((s) => [s.clientId, s]));
  for (const [clientId, m] of stored) {
    const send = known.get(clientId);
    assert.ok(send, `${when}: stored clientId ${clientId} was never sent`);
    assert.equal(m.orderId, send.orderId, `${when}: ${clientId} stored in the wrong order`);
  }

  let storedAnyway = 0;
  for (const send of ledger.sends) {
    const m = stored.get(send.clientId);
    if (send.outcome === 'ok') {
      assert.ok(m, `${when}: acknowledged message ${send.clientId} (${send.transport}, round ${send.round}, id ${send.id}, seq ${send.seq}) is lost`);
      assert.equal(m.id, send.id, `${when}: ${send.clientId} was acknowledged with id ${send.id} but is stored as ${m.id}`);
      assert.equal(m.seq, send.seq, `${when}: ${send.clientId} was acknowledged with seq ${send.seq} but is stored at ${m.seq}`);
    } else if (m) {
      storedAnyway += 1;
    }
    if (complete) assert.ok(m, `${when}: ${send.clientId} is not stored after its retry`);
  }

  const pointers = new Map(); // `${orderId} ${user}` → readSeq
  for (const orderId of orders) {
    const res = await srv.http('GET', `/api/chat/orders/${encodeURIComponent(orderId)}/participants`, auditor);
    assert.equal(res.status, 200, `${when}: participants of ${orderId}: ${res.text}`);
    for (const p of res.body.data) pointers.set(`${orderId} ${p.userId}`, p.readSeq);
  }
  for (const read of ledger.reads.filter((r) => r.outcome === 'ok')) {
    const readSeq = pointers.get(`${read.orderId} ${read.user}`);
    assert.ok(readSeq >= read.seq, `${when}: ${read.user}'s read pointer in ${read.orderId} was acknowledged at ${read.seq} (${read.transport}, round ${read.round}) but is ${readSeq}`);
  }
  return storedAnyway;
}

/** Resends every unacknowledged send with its clientId, over the transport it first used. */
async function retryUnacknowledged(srv, unacked, ledger) {
  const before = new Map();
  for (const orderId of new Set(unacked.map((s) => s.orderId))) {
    for (const m of await history(srv, auditor, orderId)) if (m.clientId) before.set(m.clientId, m);
  }
  const sockets = new Map();
  try {
    for (const send of unacked) {
      const tok = token(send.user, roleOf(send.user));
      const body = { orderId: send.orderId, message: `load ${send.clientId} from ${send.user} over ${send.transport}`, clientId: send.clientId };
      let result;
      if (send.transport === 'http') {
        result = await httpSend(srv, tok, body);
      } else {
        if (!sockets.has(send.user)) sockets.set(send.user, await srv.connect(tok));
        result = await socketSend(sockets.get(send.user), body, 15_000);
      }
      assert.equal(result.outcome, 'ok', `retry of ${send.clientId} over ${send.transport}: ${result.detail}`);
      const earlier = before.get(send.clientId);
      if (earlier) {
        assert.equal(result.id, earlier.id, `retry of ${send.clientId}, already stored as ${earlier.id}, returned another message ${result.id}`);
        assert.equal(result.duplicate, true, `retry of the already stored ${send.clientId} was not reported as a duplicate`);
      } else {
        assert.equal(result.duplicate, false, `retry of ${send.clientId}, which was not stored, was reported as a duplicate`);
      }
      Object.assign(send, { outcome: 'ok', id: result.id, seq: result.seq, retried: true });
    }
  } finally {
    for (const s of sockets.values()) s.close();
  }
  assert.ok(ledger.sends.every((s) => s.outcome === 'ok'));
}
