// The benchmark cannot rot: `orderchat-bench run --smoke` (every scenario, tiny sizes)
// against a debug orderchat, and against the Node socket.io peer in bench/peers when its
// packages are installed (scripts/test installs them). Every scenario must print one
// JSON line that parses, report no errors, and show that it actually did its work.
// The variants bench/run adds run too: `durable` on PostgreSQL (durable-postgres), and
// `fanout` and `durable` across two nodes on one database and one Redis
// (fanout-cluster, durable-cluster).
//
// PostgreSQL: the server scripts/test starts (ORDERCHAT_TEST_DATABASE_URL, or
// E2E_POSTGRES_URL), a database of its own created there; without one, the PostgreSQL
// test is skipped and the two nodes share a SQLite file (as in cluster.test.mjs).
// Redis: ORDERCHAT_TEST_REDIS_URL, or one this file starts with scripts/redis; the
// two-node test is skipped only if redis-server cannot be started.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, SECRET } from '../helpers.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = process.env.ORDERCHAT_BENCH_BIN || join(repoRoot, 'target/debug/orderchat-bench');
const PEER_DIR = join(repoRoot, 'bench/peers/node-socketio');
const REDIS_SCRIPT = join(repoRoot, 'scripts/redis');
const SCENARIOS = ['durable', 'fanout', 'hold', 'reconnect', 'long-history'];
const POSTGRES = process.env.E2E_POSTGRES_URL || process.env.ORDERCHAT_TEST_DATABASE_URL;
const NO_LIMITS = {
  ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '1000000000',
  ORDERCHAT_MESSAGE_BURST: '1000000000',
  ORDERCHAT_MAX_CONNECTIONS_PER_USER: '1000',
};

/**
 * Runs the smoke bench against `urls` (one server, or the nodes of a cluster, with their
 * `pids`); `extra` adds arguments (scenarios first). Resolves with its parsed stdout lines.
 */
function smoke(urls, target, pids, extra = []) {
  return new Promise((res, rej) => {
    const args = ['run', ...extra, '--smoke', '--url', urls.join(','), '--secret', SECRET, '--target', target,
      '--server-pid', pids.join(',')];
    const proc = spawn(BENCH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { err += c; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); }, 90_000);
    proc.once('error', rej);
    proc.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return rej(new Error(`orderchat-bench exited ${code}\n${err}\n${out}`));
      try {
        res(out.trim().split('\n').map((line) => JSON.parse(line)));
      } catch (e) {
        rej(new Error(`unparsable output: ${e.message}\n${out}`));
      }
    });
  });
}

function assertSound(lines, target) {
  assert.deepEqual(lines.map((l) => l.scenario), SCENARIOS);
  for (const line of lines) {
    const what = `${line.scenario} on ${target}: ${JSON.stringify(line)}`;
    assert.equal(line.target, target, what);
    assert.equal(line.failed, undefined, what);
    assert.equal(line.errors, 0, what);
  }
  const [durable, fanout, hold, reconnect, history] = lines.map((l) => l.results);
  assert.ok(durable.oneRoom.acksPerSec > 0 && durable.manyRooms.acksPerSec > 0, 'durable acked messages');
  assert.ok(durable.oneRoom.ackLatency.p99Ms > 0, 'durable measured latency');
  assert.ok(fanout.fixedRate.deliveries > 0 && fanout.fixedRate.missingDeliveries === 0, 'fanout delivered everything');
  assert.ok(fanout.sweep.maxRateUnderTarget > 0, 'fanout sweep found a passing rate');
  assert.equal(hold.connected, 20, 'hold kept every connection');
  assert.ok(hold.serverKiBPerConnection !== null, 'hold read the server memory');
  assert.equal(reconnect.missed, 0, 'reconnect missed nothing');
  assert.ok(reconnect.catchUp.count === 8, 'every client caught up');
  assert.equal(history.filled, 300, 'long-history filled its order');
}

test('orderchat-bench --smoke against orderchat: every scenario, no errors', { timeout: 120_000 }, async () => {
  const srv = await spawnServer(NO_LIMITS);
  try {
    assertSound(await smoke([srv.url], 'orderchat', [srv.proc.pid]), 'orderchat');
  } finally {
    await srv.stop();
  }
});

const peerInstalled = existsSync(join(PEER_DIR, 'node_modules/socket.io'));
test('orderchat-bench --smoke against the Node socket.io peer', {
  timeout: 120_000,
  skip: peerInstalled ? false : 'bench/peers/node-socketio has no node_modules (npm ci there)',
}, async () => {
  const peer = spawn(process.execPath, [join(PEER_DIR, 'server.mjs')], {
    env: { PATH: process.env.PATH, ORDERCHAT_BIND: '127.0.0.1:0', ORDERCHAT_JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const addr = await new Promise((res, rej) => {
      let log = '';
      const timer = setTimeout(() => rej(new Error(`peer did not start:\n${log}`)), 15_000);
      const keep = (c) => {
        log += c;
        const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
        if (m) { clearTimeout(timer); res(m[1]); }
      };
      peer.stdout.on('data', keep);
      peer.stderr.on('data', keep);
      peer.once('exit', (code) => rej(new Error(`peer exited ${code}:\n${log}`)));
    });
    assertSound(await smoke([`http://${addr}`], 'node-socketio', [peer.pid]), 'node-socketio');
  } finally {
    peer.kill('SIGTERM');
  }
});

/** A fresh database on the PostgreSQL server `server`; returns its URL. */
function createDatabase(server, name) {
  execFileSync('psql', [server, '--quiet', '--no-psqlrc', '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

function dropDatabase(server, name) {
  execFileSync('psql', [server, '--quiet', '--no-psqlrc', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`],
    { stdio: 'pipe' });
}

const dbName = (what) => `orderchat_bench_${what}_${process.pid}_${Date.now()}`;

/** Durable-case checks shared by the variants: every ack ok, both cases measured. */
function assertDurable(line, what) {
  const text = `${what}: ${JSON.stringify(line)}`;
  assert.equal(line.scenario, 'durable', text);
  assert.equal(line.failed, undefined, text);
  assert.equal(line.errors, 0, text);
  assert.ok(line.results.oneRoom.acksPerSec > 0 && line.results.manyRooms.acksPerSec > 0, `acked messages: ${text}`);
  assert.ok(line.results.manyRooms.ackLatency.p99Ms > 0, `measured latency: ${text}`);
}

test('orderchat-bench durable against orderchat on PostgreSQL (durable-postgres)', {
  timeout: 120_000,
  skip: POSTGRES ? false : 'no PostgreSQL: set ORDERCHAT_TEST_DATABASE_URL (scripts/test starts one)',
}, async () => {
  const name = dbName('pg');
  const srv = await spawnServer({ ...NO_LIMITS, ORDERCHAT_DATABASE_URL: createDatabase(POSTGRES, name) });
  try {
    const [line, ...rest] = await smoke([srv.url], 'orderchat-postgres', [srv.proc.pid],
      ['durable', '--backend', 'postgres']);
    assert.equal(rest.length, 0);
    assert.equal(line.target, 'orderchat-postgres');
    assert.equal(line.backend, 'postgres');
    assert.equal(line.nodes, 1);
    assertDurable(line, 'durable on PostgreSQL');
  } finally {
    await srv.stop();
    dropDatabase(POSTGRES, name);
  }
});

// Two nodes on one database and one Redis, as bench/run's fanout-cluster starts them.
let redisUrl = process.env.ORDERCHAT_TEST_REDIS_URL;
let tmp;
let ownRedis = null;
let noRedis = false;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'orderchat-bench-cluster-'));
  if (redisUrl) return;
  try {
    ownRedis = join(tmp, 'redis');
    redisUrl = execFileSync(REDIS_SCRIPT, ['start', ownRedis], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    ownRedis = null;
    noRedis = `redis-server could not be started: ${err.stderr || err.message}`;
  }
});

after(() => {
  if (ownRedis) execFileSync(REDIS_SCRIPT, ['stop', ownRedis], { stdio: 'ignore' });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('orderchat-bench fanout and durable across two nodes (fanout-cluster, durable-cluster)', { timeout: 120_000 }, async (t) => {
  if (noRedis) { t.skip(noRedis); return; }
  const name = dbName('cluster');
  const database = POSTGRES ? createDatabase(POSTGRES, name) : `sqlite://${join(tmp, 'shared.db')}`;
  const shared = { ...NO_LIMITS, ORDERCHAT_DATABASE_URL: database, ORDERCHAT_REDIS_URL: `${redisUrl}?protocol=resp3` };
  // One after the other: the first creates the database and runs the migrations.
  const a = await spawnServer(shared);
  let b;
  try {
    b = await spawnServer(shared);
    const lines = await smoke([a.url, b.url], 'orderchat-cluster', [a.proc.pid, b.proc.pid],
      ['fanout', 'durable', '--backend', POSTGRES ? 'postgres+redis' : 'sqlite+redis']);
    assert.deepEqual(lines.map((l) => l.scenario), ['fanout', 'durable']);
    const [fanout, durable] = lines;
    const text = JSON.stringify(fanout);
    assert.equal(fanout.target, 'orderchat-cluster', text);
    assert.equal(fanout.nodes, 2, text);
    assert.equal(fanout.errors, 0, text);
    const fixed = fanout.results.fixedRate;
    assert.ok(fixed.deliveries > 0 && fixed.missingDeliveries === 0, `fanout delivered everything: ${text}`);
    assert.ok(fanout.results.sweep.maxRateUnderTarget > 0, `fanout sweep found a passing rate: ${text}`);
    // Receivers on both nodes, each node's share delivered: the messages crossed Redis.
    assert.deepEqual(fixed.perNode.map((n) => n.url), [a.url, b.url], text);
    for (const node of fixed.perNode) assert.ok(node.receivers > 0 && node.deliveries > 0, `deliveries on ${node.url}: ${text}`);
    assert.equal(fixed.perNode.reduce((sum, n) => sum + n.deliveries, 0), fixed.deliveries, text);
    assert.equal(fixed.cpu.serverCoresPerNode.length, 2, text);
    assertDurable(durable, 'durable across two nodes');
    assert.equal(durable.nodes, 2);
  } finally {
    await b?.stop();
    await a.stop();
    if (POSTGRES) dropDatabase(POSTGRES, name);
  }
});
