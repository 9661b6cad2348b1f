// A database outage (PostgreSQL stopped under a running node): requests fail fast with
// 503 `unavailable` and socket acks with `unavailable` — never a 500, never a hang —
// /readyz says the database is down, and when the database is back everything works
// again by itself (pool and message writer reconnect), with nothing refused stored.
//
// The server of this file gets a PostgreSQL of its own (scripts/postgres), since the test
// stops it; E2E_POSTGRES_URL does not change it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, token, id, emitAck, eventually, history } from '../helpers.mjs';

const POSTGRES = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/postgres');
const dir = mkdtempSync(join(tmpdir(), 'orderchat-outage-'));
const pg = (command) => execFileSync(POSTGRES, [command, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
let srv;
after(async () => {
  await srv?.stop();
  try { pg('stop'); } catch { /* already stopped */ }
  rmSync(dir, { recursive: true, force: true });
});

test('PostgreSQL stopped under a running node: 503 unavailable, /readyz down, then recovery by itself', { timeout: 120_000 }, async () => {
  const url = pg('start');
  srv = await spawnServer({ ORDERCHAT_DATABASE_URL: url });
  const orderId = id('order');
  await srv.order(orderId, { cara: 'customer', dev: 'driver' });
  const cara = token('cara', 'customer');
  const socket = await srv.connect(cara);
  assert.equal((await emitAck(socket, 'send-message', { orderId, message: 'before' })).ok, true);

  pg('stop');
  const started = Date.now();
  const down = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, cara);
  assert.equal(down.status, 503, down.text);
  assert.equal(down.body.code, 'unavailable');
  assert.ok(Date.now() - started < 15_000, `the refusal took ${Date.now() - started} ms`);
  const refused = await emitAck(socket, 'send-message', { orderId, message: 'while down', clientId: 'c-down' }, 20_000);
  assert.equal(refused.ok, false, JSON.stringify(refused));
  assert.equal(refused.code, 'unavailable', JSON.stringify(refused));
  const ready = await srv.http('GET', '/readyz');
  assert.equal(ready.status, 503, ready.text);

  pg('start');
  await eventually(async () => (await srv.http('GET', '/readyz')).status === 200, '/readyz is 200 again', 30_000);
  await eventually(async () => (await emitAck(socket, 'send-message', { orderId, message: 'after' }, 20_000)).ok, 'a send succeeds again', 30_000);
  const stored = (await history(srv, cara, orderId)).map((m) => m.message);
  assert.deepEqual(stored.filter((m) => m !== 'after'), ['before'], `stored: ${JSON.stringify(stored)}`);
  assert.ok(stored.includes('after'));
  socket.close();
});
