// TLS to PostgreSQL and to Redis, as managed services require: a database URL with
// `sslmode=verify-full&sslrootcert=<CA file>` and a `rediss://` Redis URL (the CA
// trusted through SSL_CERT_FILE) work, every connection the server holds to the
// database is encrypted, and a server certificate the node cannot verify stops the
// start with a clear message instead of falling back to plain text.
//
// This file starts its own PostgreSQL (scripts/postgres, which always takes TLS too)
// and its own TLS-only Redis (REDIS_TLS=1 scripts/redis), each with a throwaway CA
// (scripts/tls-certs).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, token, id, emitAck, waitFor, history } from '../helpers.mjs';

const SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts');
const tmp = mkdtempSync(join(tmpdir(), 'orderchat-tls-'));
// Its own temporary directory: the server runs as `postgres` under root, and may not
// enter one of root's private directories.
const pgDir = mkdtempSync(join(tmpdir(), 'orderchat-tls-pg-'));
const redisDir = join(tmp, 'redis');
const run = (script, args, env = {}) => execFileSync(join(SCRIPTS, script), args, {
  encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
}).trim();

let pgUrl = null;
let redisUrl = null;
const servers = [];
after(async () => {
  for (const srv of servers) await srv.stop();
  if (pgUrl) try { run('postgres', ['stop', pgDir]); } catch { /* already stopped */ }
  if (redisUrl) try { run('redis', ['stop', redisDir]); } catch { /* already stopped */ }
  rmSync(tmp, { recursive: true, force: true });
  rmSync(pgDir, { recursive: true, force: true });
});

function postgres() {
  pgUrl ??= run('postgres', ['start', pgDir]);
  return pgUrl;
}

/** `SELECT` through psql on a plain connection (so it does not count as encrypted). */
function psql(sql) {
  const plain = `${postgres()}?sslmode=disable`;
  return execFileSync('psql', [plain, '-Atc', sql], { encoding: 'utf8' }).trim();
}

async function start(env) {
  const srv = await spawnServer(env);
  servers.push(srv);
  return srv;
}

test('PostgreSQL over verified TLS: the node works and every connection it holds is encrypted', { timeout: 120_000 }, async () => {
  const db = `tls_${Date.now()}`;
  psql(`CREATE DATABASE ${db}`);
  const url = postgres().replace(/\/postgres$/, `/${db}`);
  const srv = await start({ ORDERCHAT_DATABASE_URL: `${url}?sslmode=verify-full&sslrootcert=${join(pgDir, 'ca.crt')}` });

  const orderId = id('order');
  await srv.order(orderId, { tia: 'customer', tom: 'driver' });
  const tia = token('tia', 'customer');
  const socket = await srv.connect(tia);
  assert.equal((await emitAck(socket, 'join-order-room', orderId)).ok, true);
  const ack = await emitAck(socket, 'send-message', { orderId, message: 'over TLS' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.deepEqual((await history(srv, tia, orderId)).map((m) => m.message), ['over TLS']);
  socket.close();

  const [encrypted, plain] = psql(`SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
    FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '${db}'`).split('|').map(Number);
  assert.ok(encrypted >= 2, `the pool and the message writer connect over TLS (${encrypted} encrypted)`);
  assert.equal(plain, 0, 'no plain connection to the database');
});

test('a database certificate the node cannot verify stops the start with the reason', { timeout: 60_000 }, async () => {
  // verify-full without our CA: only the machine's trusted roots, which did not sign it.
  await assert.rejects(spawnServer({ ORDERCHAT_DATABASE_URL: `${postgres()}?sslmode=verify-full` }), (err) => {
    assert.match(err.message, /exited early/, err.message);
    assert.match(err.message, /opening the PostgreSQL database/, err.message);
    assert.match(err.message, /certificate: UnknownIssuer/, err.message);
    return true;
  });
});

test('two nodes on a TLS-only Redis (rediss://) deliver to each other', { timeout: 120_000 }, async () => {
  redisUrl = run('redis', ['start', redisDir], { REDIS_TLS: '1' });
  assert.match(redisUrl, /^rediss:\/\//);
  const shared = {
    ORDERCHAT_REDIS_URL: `${redisUrl}/?protocol=resp3`,
    ORDERCHAT_DATABASE_URL: `sqlite://${join(tmp, 'shared.db')}`,
    SSL_CERT_FILE: join(redisDir, 'tls', 'ca.crt'),
  };
  const a = await start(shared);
  const b = await start(shared);
  const orderId = id('order');
  await a.order(orderId, { uma: 'customer', ugo: 'driver' });
  const onA = await a.connect(token('uma', 'customer'));
  const onB = await b.connect(token('ugo', 'driver'));
  for (const s of [onA, onB]) assert.equal((await emitAck(s, 'join-order-room', orderId)).ok, true);
  const ack = await emitAck(onA, 'send-message', { orderId, message: 'across nodes, encrypted' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const event = await waitFor(onB, 'new-message', (e) => e.message.id === ack.message.id);
  assert.equal(event.message.message, 'across nodes, encrypted');
  onA.close();
  onB.close();
});

test('a Redis certificate the node cannot verify stops the start with the reason', { timeout: 60_000 }, async () => {
  redisUrl ??= run('redis', ['start', redisDir], { REDIS_TLS: '1' });
  // No SSL_CERT_FILE: the machine's roots did not sign this Redis' certificate.
  await assert.rejects(spawnServer({ ORDERCHAT_REDIS_URL: `${redisUrl}/?protocol=resp3` }), (err) => {
    assert.match(err.message, /exited early/, err.message);
    assert.match(err.message, /certificate: UnknownIssuer/, err.message);
    return true;
  });
});
