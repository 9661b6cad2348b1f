// Shared helpers for the end-to-end suite: start the real orderchat binary, mint
// JWTs, talk HTTP with fetch and Socket.IO with the official socket.io-client.
//
//   const srv = await spawnServer({ ORDERCHAT_TYPING_TIMEOUT_SECS: '1' });
//   const alice = srv.token('alice', 'customer');
//   await srv.order('o1', { alice: 'customer', bob: 'driver' });
//   const sock = await srv.connect(alice);
//   const ack = await emitAck(sock, 'join-order-room', 'o1');
//   const ev = await waitFor(sock, 'new-message', (e) => e.orderId === 'o1');
//   await srv.stop();
//
// With E2E_POSTGRES_URL set to a PostgreSQL server where the suite may create
// databases, every server stores into a database of its own there (created on its first
// start, found again through its data directory on a restart) instead of SQLite.
//
// Every response `srv.http` receives is checked against the server's OpenAPI document
// (openapi.mjs): a body, status or route the document does not describe fails the test.
//
// No server of a run may panic: every server this process starts is remembered, and
// `srv.stop()`, `srv.kill()` and a root `after()` hook (this module is imported by every
// test file, so the hook runs at the end of each file) fail if a log says `panicked at`.

import { execFileSync, spawn } from 'node:child_process';
import { createHmac, createSign } from 'node:crypto';
import { after } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { loadContract } from './openapi.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = process.env.ORDERCHAT_BIN || join(repoRoot, 'target/debug/orderchat');
export const SECRET = 'e2e-test-secret-0123456789-abcdefghijklmnop';
export const TIMEOUT = 5000; // generous: tests must pass on a slow, busy machine

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
/** A name unique within this test process: `id('order')` → "order-3-k2x9". */
export function id(prefix) {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Sign a JWT. `header.alg` may be HS256/HS384/HS512 (`key` is the secret), RS256/RS384/RS512
 * (`key` is an RSA private key, PEM or KeyObject) or "none" (empty signature).
 */
export function signJwt(payload, key = SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${input}.`;
  const bits = /^(HS|RS)(256|384|512)$/.exec(header.alg);
  if (!bits) throw new Error(`signJwt: unsupported alg ${header.alg}`);
  const signature = bits[1] === 'HS'
    ? createHmac(`sha${bits[2]}`, key).update(input).digest('base64url')
    : createSign(`RSA-SHA${bits[2]}`).update(input).sign(key, 'base64url');
  return `${input}.${signature}`;
}

/** Display name the helpers give every user: tokens and order participants agree. */
export const nameOf = (userId) => `Name ${userId}`;

/** A valid token for `sub` with `role`; `extra` adds or overrides claims (undefined removes). */
export function token(sub, role = 'customer', extra = {}, secret = SECRET) {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ sub, role, name: nameOf(sub), exp: now + 3600, ...extra }, secret);
}

/**
 * Start `orderchat serve` on a random port with a fresh data dir (or `opts.dataDir`).
 * `env` adds ORDERCHAT_* settings. Resolves once the server logs its address.
 */
export async function spawnServer(env = {}, opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'orderchat-e2e-'));
  const proc = spawn(BIN, ['serve'], {
    env: definedOnly({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NO_COLOR: '1',
      ORDERCHAT_BIND: '127.0.0.1:0',
      ORDERCHAT_DATA_DIR: dataDir,
      // A test that names its own database (a cluster's shared one) gets no other.
      ORDERCHAT_DATABASE_URL: 'ORDERCHAT_DATABASE_URL' in env ? undefined : postgresDatabaseFor(dataDir),
      ORDERCHAT_JWT_SECRET: SECRET,
      ...env, // a variable set to undefined is left out
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let dropped = 0; // characters cut from the front of `log` to bound memory
  const panics = []; // absolute offsets of every "panicked at" the server printed
  const keep = (chunk) => {
    const before = log.length;
    log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, ''); // strip ANSI colours
    // Scan only the new text (plus a marker's length of overlap, in case a chunk boundary
    // split it), so a panic is caught even if the log is trimmed later.
    const scan = new RegExp(PANIC_MARKER, 'g');
    scan.lastIndex = Math.max(0, before - PANIC_MARKER.length + 1);
    for (let m = scan.exec(log); m; m = scan.exec(log)) panics.push(dropped + m.index);
    if (log.length > 8_000_000) { dropped += log.length - 4_000_000; log = log.slice(-4_000_000); }
    if (process.env.E2E_LOG) process.stderr.write(chunk);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  // 'close' comes after 'exit' once stdout and stderr are drained: only then is the log complete.
  const closed = new Promise((res) => proc.once('close', () => res()));
  const spawned = {
    label: `${BIN} serve (pid ${proc.pid}, data ${dataDir})`,
    proc,
    closed,
    reported: false,
    /** The panics in this server's log so far, each with the lines around it. */
    panics: () => panics.map((at) => {
      const i = at - dropped;
      return i < 0 ? '(panic text trimmed from the kept log)' : log.slice(Math.max(0, i - 300), i + 700);
    }),
  };
  closed.then(() => lateCheck(spawned));

  const addr = await new Promise((res, rej) => {
    const timer = setTimeout(() => fail(new Error('server did not log "listening" within 30 s')), 30_000);
    const fail = (err) => { clearTimeout(timer); proc.kill('SIGKILL'); rej(new Error(`${err.message}\n--- server log ---\n${log}`)); };
    const check = () => {
      const m = /listening.*?(127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); proc.stderr.off('data', check); proc.stdout.off('data', check); res(m[1]); }
    };
    proc.stderr.on('data', check);
    proc.stdout.on('data', check);
    proc.once('error', fail);
    exited.then(({ code, signal }) => fail(new Error(`server exited early (code ${code}, signal ${signal})`)));
  });

  const url = `http://${addr}`;
  const contract = await loadContract(url);
  const sockets = new Set();
  let stopped = null;

  const srv = {
    url,
    dataDir,
    proc,
    exited,
    closed,
    logs: () => log,
    token,

    /** Throws if this server's log holds a Rust panic. */
    assertNoPanic() {
      assertNoPanic([spawned]);
    },

    /** SIGKILL (a crash), wait until the process and its pipes are gone; throws on a panic in the log. */
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      const result = await exited;
      await closed;
      assertNoPanic([spawned]);
      return result;
    },

    /**
     * fetch wrapper: JSON body unless `body` is a string; returns { status, headers, body, text }.
     * Throws if the response does not match the OpenAPI document (see openapi.mjs).
     */
    async http(method, path, tok, body, headers = {}) {
      const h = { ...headers };
      if (tok) h.authorization = `Bearer ${tok}`;
      const init = { method, headers: h };
      if (body !== undefined) {
        init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
        if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed;
      try { parsed = JSON.parse(text); } catch { parsed = text; }
      const response = { status: res.status, headers: res.headers, body: parsed, text };
      contract.check({ method, path, headers: h }, response);
      return response;
    },

    /** Connected socket (rejects with the connect_error). Every received event is recorded. */
    connect(tok, options = {}) {
      const socket = io(url, {
        auth: tok === undefined ? undefined : { token: tok },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: TIMEOUT,
        ...options,
      });
      socket.label = tok ? (() => { try { return JSON.parse(Buffer.from(tok.split('.')[1], 'base64url')).sub; } catch { return '?'; } })() : 'anonymous';
      record(socket);
      sockets.add(socket);
      socket.on('disconnect', () => sockets.delete(socket));
      return new Promise((res, rej) => {
        socket.once('connect', () => res(socket));
        socket.once('connect_error', (err) => { socket.close(); sockets.delete(socket); rej(err); });
      });
    },

    /** The connect_error a refused connection gets (fails the test if it connects). */
    async connectError(tok, options = {}) {
      try {
        const s = await srv.connect(tok, options);
        s.close();
      } catch (err) {
        return err;
      }
      throw new Error('connection was accepted, expected connect_error');
    },

    /** Register (create or replace) an order as the platform: `{ alice: 'customer', bob: 'driver' }`. */
    async order(orderId, participants, fields = {}) {
      const res = await srv.http('PUT', `/api/orders/${encodeURIComponent(orderId)}`, token('platform', 'service'), {
        number: fields.number ?? `N-${orderId}`,
        status: fields.status ?? 'created',
        participants: Object.entries(participants).map(([userId, role]) => ({ userId, role, name: nameOf(userId) })),
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`PUT order ${orderId}: ${res.status} ${res.text}`);
      return res.body.data;
    },

    /** Send a text message over HTTP and return the stored message (throws unless 201). */
    async send(tok, orderId, message, extra = {}) {
      const res = await srv.http('POST', '/api/chat/messages', tok, { orderId, message, ...extra });
      if (res.status !== 201) throw new Error(`POST message: ${res.status} ${res.text}`);
      return res.body.data;
    },

    /** SIGTERM and wait for exit; returns { code, signal }. Closes our sockets first unless told not to. */
    async stop({ closeSockets = true, removeDataDir = !opts.dataDir, timeoutMs = 15_000 } = {}) {
      if (!stopped) {
        stopped = (async () => {
          if (closeSockets) for (const s of sockets) s.close();
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          let timer;
          const result = await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, timeoutMs, null); })]);
          clearTimeout(timer);
          if (!result) {
            proc.kill('SIGKILL');
            await closed;
            assertNoPanic([spawned]);
            throw new Error(`server did not exit within ${timeoutMs} ms of SIGTERM`);
          }
          await closed;
          for (const s of sockets) s.close();
          if (removeDataDir) {
            dropPostgresDatabaseOf(dataDir);
            rmSync(dataDir, { recursive: true, force: true });
          }
          assertNoPanic([spawned]);
          return result;
        })();
      }
      return stopped;
    },
  };
  spawned.stop = () => srv.stop();
  servers.push(spawned);
  return srv;
}

const PANIC_MARKER = 'panicked at';
const testFile = basename(process.argv[1] ?? 'this test process');

/** Every server this test process started, for the panic check at the end. */
const servers = [];
let fileDone = false;

/** Throws one error naming every server among `list` whose log holds a panic. */
export function assertNoPanic(list = servers) {
  const bad = list.filter((s) => s.panics().length > 0);
  if (bad.length === 0) return;
  throw new Error(`a server of ${testFile} panicked (its log contains "${PANIC_MARKER}"):\n${bad.map((s) =>
    `--- ${s.label}: ${s.panics().length} panic(s); the first:\n${s.panics()[0]}`).join('\n')}`);
}

// The end of the test file: every server's log, including servers killed with SIGKILL,
// must be free of panics. node:test runs root `after` hooks in registration order and
// skips the rest once one fails, and this one is registered first (at import), so it
// first stops every server still running (the same memoized `srv.stop()` a file's own
// `after` calls) — a failure here must not leave a server behind — and waits until every
// server's pipes are drained, so its log is complete.
after(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
  let timer;
  const bound = new Promise((res) => { timer = setTimeout(res, 5000); });
  await Promise.race([Promise.all(servers.map((s) => s.closed)), bound]);
  clearTimeout(timer);
  fileDone = true;
  for (const s of servers) s.reported = s.panics().length > 0;
  assertNoPanic(servers);
});

/** A server that closes after the root `after` hook (stopped by a file's own `after`). */
function lateCheck(s) {
  if (!fileDone || s.reported || s.panics().length === 0) return;
  s.reported = true;
  process.stderr.write(`\nFAIL: a server of ${testFile} panicked (its log contains "${PANIC_MARKER}"): ${s.label}\n${s.panics()[0]}\n`);
  process.exitCode = 1;
}

/**
 * The PostgreSQL database of the server on `dataDir` when E2E_POSTGRES_URL is set (see
 * the top of this file), else undefined (SQLite in the data directory).
 */
export function postgresDatabaseFor(dataDir) {
  const server = process.env.E2E_POSTGRES_URL;
  if (!server) return undefined;
  const marker = join(dataDir, 'postgres-database');
  let name;
  if (existsSync(marker)) {
    name = readFileSync(marker, 'utf8').trim();
  } else {
    name = `orderchat_e2e_${process.pid}_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
    execFileSync('psql', [server, '--quiet', '--no-psqlrc', '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
    writeFileSync(marker, name);
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops the PostgreSQL database `postgresDatabaseFor` made for `dataDir`, if any: a
 * PostgreSQL pass of the suite makes one per server (~8 MB each), and they add up.
 */
export function dropPostgresDatabaseOf(dataDir) {
  const server = process.env.E2E_POSTGRES_URL;
  const marker = join(dataDir, 'postgres-database');
  if (!server || !existsSync(marker)) return;
  const name = readFileSync(marker, 'utf8').trim();
  execFileSync('psql', [server, '--quiet', '--no-psqlrc', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'pipe' });
}

const definedOnly = (env) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));

function record(socket) {
  socket.received = []; // { event, payload, taken }
  socket.waiters = new Set();
  socket.onAny((event, payload) => {
    const rec = { event, payload, taken: false };
    socket.received.push(rec);
    for (const w of [...socket.waiters]) w(rec);
  });
}

/**
 * Resolve with the first payload of `event` on `socket` matching `predicate` that no
 * earlier waitFor took — including events that arrived before this call.
 */
export function waitFor(socket, event, predicate = () => true, timeoutMs = TIMEOUT) {
  const matches = (rec) => !rec.taken && rec.event === event && predicate(rec.payload);
  const early = socket.received.find(matches);
  if (early) { early.taken = true; return Promise.resolve(early.payload); }
  return new Promise((res, rej) => {
    const w = (rec) => {
      if (!matches(rec)) return;
      rec.taken = true;
      clearTimeout(timer);
      socket.waiters.delete(w);
      res(rec.payload);
    };
    const timer = setTimeout(() => {
      socket.waiters.delete(w);
      const seen = socket.received.map((r) => `${r.event} ${JSON.stringify(r.payload)}`.slice(0, 200)).join('\n  ');
      rej(new Error(`timed out after ${timeoutMs} ms waiting for "${event}" on ${socket.label}'s socket; it received:\n  ${seen || '(nothing)'}`));
    }, timeoutMs);
    socket.waiters.add(w);
  });
}

/** Every payload of `event` this socket received so far that matches `predicate`. */
export function received(socket, event, predicate = () => true) {
  return socket.received.filter((r) => r.event === event && predicate(r.payload)).map((r) => r.payload);
}

/** Emit with an acknowledgement; rejects if the server does not ack within the timeout. */
export function emitAck(socket, event, payload, timeoutMs = TIMEOUT) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/** Short pause for "must NOT receive" checks, taken only after a positive barrier. */
export const settle = () => sleep(400);

/** Resolve when the socket is disconnected (with the reason). */
export function disconnected(socket, timeoutMs = TIMEOUT) {
  if (!socket.connected) return Promise.resolve('already disconnected');
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`socket of ${socket.label} still connected after ${timeoutMs} ms`)), timeoutMs);
    socket.once('disconnect', (reason) => { clearTimeout(timer); res(reason); });
  });
}

/** Retry `fn` until it returns truthy (for state the server updates asynchronously). */
export async function eventually(fn, what, timeoutMs = TIMEOUT) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(50);
  }
}

/** All messages of an order, oldest first, read through the `after` cursor. */
export async function history(srv, tok, orderId) {
  const all = [];
  let after = 0;
  for (;;) {
    const res = await srv.http('GET', `/api/chat/orders/${encodeURIComponent(orderId)}/messages?after=${after}&limit=200`, tok);
    if (res.status !== 200) throw new Error(`history: ${res.status} ${res.text}`);
    all.push(...res.body.data);
    if (!res.body.meta.hasMore || res.body.data.length === 0) return all;
    after = res.body.meta.nextCursor;
  }
}

/**
 * Messages flow into `orderId` from `writers` (each `{ srv, tok }`: one connection that
 * sends one message after another) while a reader reconnects `rounds` times, to each of
 * `readerNodes` in turn, and each time joins with `sinceSeq` = the highest seq up to which
 * it has everything (asking again while `hasMore`). At the end the writers stop and the
 * reader catches up once more. Returns `counts` (seq → how often the reader got it, live
 * and in catch-ups together), `disorder` (live events on one connection that did not
 * follow the previous one by exactly one) and `stored` (messages in the order).
 */
export async function readerReconnectingWhileFlowing({ writers, readerNodes, readerTok, orderId, rounds = 6 }) {
  let stop = false;
  const loops = writers.map(async ({ srv, tok }, w) => {
    const s = await srv.connect(tok);
    for (let n = 1; !stop; n += 1) {
      const ack = await emitAck(s, 'send-message', { orderId, message: `writer ${w} message ${n}` });
      if (!ack.ok) throw new Error(`writer ${w}: ${JSON.stringify(ack)}`);
    }
    s.close();
  });
  const counts = new Map();
  const disorder = [];
  const contiguous = () => { let seq = 0; while (counts.has(seq + 1)) seq += 1; return seq; };
  const visit = async (srv, round) => {
    const s = await srv.connect(readerTok);
    let lastLive = null;
    s.on('new-message', (e) => {
      if (e.orderId !== orderId) return;
      const seq = e.message.seq;
      counts.set(seq, (counts.get(seq) ?? 0) + 1);
      if (lastLive !== null && seq !== lastLive + 1) disorder.push(`round ${round}: live seq ${seq} after ${lastLive}`);
      lastLive = seq;
    });
    for (let more = true, since = contiguous(); more;) {
      const ack = await emitAck(s, 'join-order-room', { orderId, sinceSeq: since });
      if (!ack.ok) throw new Error(`join in round ${round}: ${JSON.stringify(ack)}`);
      for (const m of ack.messages) counts.set(m.seq, (counts.get(m.seq) ?? 0) + 1);
      if (ack.messages.length > 0) since = ack.messages.at(-1).seq;
      more = ack.hasMore;
    }
    return s;
  };
  for (let round = 0; round < rounds; round += 1) {
    const s = await visit(readerNodes[round % readerNodes.length], round);
    await sleep(150 + Math.floor(Math.random() * 150));
    s.close();
  }
  stop = true;
  await Promise.all(loops);
  const s = await visit(readerNodes[rounds % readerNodes.length], rounds);
  const stored = (await history(writers[0].srv, readerTok, orderId)).length;
  await eventually(() => contiguous() >= stored, `the reader has all ${stored} messages (up to ${contiguous()})`, 15_000);
  await settle();
  s.close();
  return { counts, disorder, stored };
}

/** Seqs of 1..`stored` that `counts` does not hold exactly once, described. */
export function notExactlyOnce(counts, stored) {
  const wrong = [];
  for (let seq = 1; seq <= stored; seq += 1) {
    const n = counts.get(seq) ?? 0;
    if (n !== 1) wrong.push(`seq ${seq} × ${n}`);
  }
  for (const seq of counts.keys()) if (seq > stored) wrong.push(`seq ${seq} beyond the ${stored} stored`);
  return wrong;
}

/**
 * A fresh order on `srv` of a customer and a driver: its id, both user ids, and a token
 * for each (`ct`, `dt`).
 */
export async function customerAndDriver(srv) {
  const orderId = id('order');
  const customer = id('cust');
  const driver = id('drv');
  await srv.order(orderId, { [customer]: 'customer', [driver]: 'driver' });
  return { orderId, customer, driver, ct: token(customer, 'customer'), dt: token(driver, 'driver') };
}
