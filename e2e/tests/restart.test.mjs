// Restart and shutdown: SIGTERM with clients still connected closes their sockets and
// exits 0; a new server on the same data directory still has the orders, messages
// (including one acknowledged just before the stop, edits and tombstones) and every
// user's read pointer, and seq continues where it stopped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, token, id, emitAck, history, disconnected, dropPostgresDatabaseOf } from '../helpers.mjs';

test('SIGTERM with connected clients closes them and exits 0; a restart keeps orders, messages and read pointers', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-restart-'));
  const orderId = id('order');
  const ct = token('ana', 'customer');
  const dt = token('dan', 'driver');
  const service = token('platform', 'service');
  try {
    // --- first life ---
    const first = await spawnServer({}, { dataDir });
    await first.order(orderId, { ana: 'customer', dan: 'driver' }, { number: 'R-1' });
    const m1 = await first.send(ct, orderId, 'first');
    const m2 = await first.send(dt, orderId, 'second');
    const m3 = await first.send(dt, orderId, 'third');
    await first.http('PATCH', `/api/chat/messages/${m1.id}`, ct, { message: 'first (edited)' });
    await first.http('DELETE', `/api/chat/messages/${m2.id}`, dt);
    await first.http('PATCH', `/api/orders/${orderId}`, service, { status: 'in_transit' });
    const read = await first.http('PATCH', `/api/chat/orders/${orderId}/read`, ct, { seq: m3.seq });
    assert.equal(read.status, 200, read.text);

    const sock = await first.connect(ct);
    const last = await emitAck(sock, 'send-message', { orderId, message: 'acked just before the stop', clientId: 'last-one' });
    assert.equal(last.ok, true);
    const before = await history(first, ct, orderId);
    const beforeParticipants = (await first.http('GET', `/api/chat/orders/${orderId}/participants`, ct)).body.data;

    const gone = disconnected(sock, 15_000);
    const exit = await first.stop({ closeSockets: false, removeDataDir: false });
    assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM must exit 0');
    await gone;

    // --- second life, same data dir ---
    const second = await spawnServer({}, { dataDir });
    try {
      const order = await second.http('GET', `/api/orders/${orderId}`, service);
      assert.equal(order.status, 200, order.text);
      assert.equal(order.body.data.number, 'R-1');
      assert.equal(order.body.data.status, 'in_transit');
      assert.deepEqual(order.body.data.participants.map((p) => p.userId).sort(), ['ana', 'dan']);

      const after = await history(second, ct, orderId);
      assert.deepEqual(after, before, 'history changed across the restart');
      assert.ok(after.some((m) => m.message === 'acked just before the stop'));
      assert.ok(after.find((m) => m.id === m2.id).deleted);
      assert.equal(after.find((m) => m.id === m1.id).message, 'first (edited)');

      const parts = (await second.http('GET', `/api/chat/orders/${orderId}/participants`, ct)).body.data;
      const readSeqs = (ps) => Object.fromEntries(ps.map((p) => [p.userId, p.readSeq]));
      assert.deepEqual(readSeqs(parts), readSeqs(beforeParticipants));
      assert.equal(readSeqs(parts).ana, m3.seq);

      // ana read up to "third"; since then: a system message and her own → nothing of dan's unread.
      const unreadAna = await second.http('GET', `/api/chat/orders/${orderId}/unread-count`, ct);
      assert.equal(unreadAna.body.data.unreadCount, 1, 'the status system message after her pointer');
      const unreadDan = await second.http('GET', `/api/chat/orders/${orderId}/unread-count`, dt);
      assert.equal(unreadDan.body.data.unreadCount, 3, 'first, the system message and the last one');

      // clientId idempotency survives too, and seq continues.
      const dup = await second.http('POST', '/api/chat/messages', ct, { orderId, message: 'acked just before the stop', clientId: 'last-one' });
      assert.equal(dup.status, 200, dup.text);
      assert.equal(dup.body.data.id, last.message.id);
      const next = await second.send(dt, orderId, 'after the restart');
      assert.equal(next.seq, before.length + 1);

      const list = await second.http('GET', '/api/chat/orders', ct);
      assert.equal(list.body.data.find((r) => r.orderId === orderId).lastMessage.message, 'after the restart');
    } finally {
      const exit2 = await second.stop({ removeDataDir: false });
      assert.equal(exit2.code, 0);
    }
  } finally {
    dropPostgresDatabaseOf(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
