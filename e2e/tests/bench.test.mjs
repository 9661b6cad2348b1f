// The benchmark cannot rot: `orderchat-bench run --smoke` (every scenario, tiny sizes)
// against a debug orderchat, and against the Node socket.io peer in bench/peers when its
// packages are installed (scripts/test installs them). Every scenario must print one
// JSON line that parses, report no errors, and show that it actually did its work.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, SECRET } from '../helpers.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = process.env.ORDERCHAT_BENCH_BIN || join(repoRoot, 'target/debug/orderchat-bench');
const PEER_DIR = join(repoRoot, 'bench/peers/node-socketio');
const SCENARIOS = ['durable', 'fanout', 'hold', 'reconnect', 'long-history'];

/** Runs the smoke bench; resolves with its parsed stdout lines. */
function smoke(url, target, pid) {
  return new Promise((res, rej) => {
    const args = ['run', '--smoke', '--url', url, '--secret', SECRET, '--target', target, '--server-pid', String(pid)];
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
  const srv = await spawnServer({
    ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '1000000000',
    ORDERCHAT_MESSAGE_BURST: '1000000000',
    ORDERCHAT_MAX_CONNECTIONS_PER_USER: '1000',
  });
  try {
    assertSound(await smoke(srv.url, 'orderchat', srv.proc.pid), 'orderchat');
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
    assertSound(await smoke(`http://${addr}`, 'node-socketio', peer.pid), 'node-socketio');
  } finally {
    peer.kill('SIGTERM');
  }
});
