// The real orderchat server for the console's browser test: `orderchat serve` on a free
// port, a fresh data directory, a test JWT secret, and the built console
// (ORDERCHAT_CONSOLE_DIR). Also mints tokens and registers orders as the platform would.
//
//   const srv = await startServer();            // { url, token(), order(), send(), markRead(), history(), stop() }
//   await srv.order('o1', { number: '1042', participants: [{ userId: 'ana', role: 'customer', name: 'Ana' }] });
//   await srv.stop();                            // throws if the server log says "panicked"

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const consoleRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = process.env.ORDERCHAT_BIN ?? resolve(consoleRoot, '../../target/debug/orderchat');
export const CONSOLE_DIR = resolve(consoleRoot, 'dist');
const SECRET = 'console-browser-test-secret-0123456789abcdef';

/** An HS256 JWT for `sub` with `role` and a display `name`, valid for an hour. */
export function token(sub, role, name) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, role, name, iat: now, exp: now + 3600 })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

export async function startServer(env = {}) {
  if (!existsSync(BIN)) throw new Error(`no orderchat binary at ${BIN}: run \`cargo build\` or set ORDERCHAT_BIN`);
  if (!existsSync(join(CONSOLE_DIR, 'index.html'))) throw new Error(`the console is not built (${CONSOLE_DIR}): run \`npm run build\``);
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-console-'));
  const proc = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NO_COLOR: '1',
      ORDERCHAT_BIND: '127.0.0.1:0',
      ORDERCHAT_DATA_DIR: dataDir,
      ORDERCHAT_JWT_SECRET: SECRET,
      ORDERCHAT_CONSOLE_DIR: CONSOLE_DIR,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk) => {
    log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, '');
    if (process.env.CONSOLE_TEST_LOG) process.stderr.write(chunk);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const closed = new Promise((res) => proc.once('close', (code, signal) => res({ code, signal })));

  const addr = await new Promise((res, rej) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearInterval(timer); res(m[1]); }
      else if (proc.exitCode !== null || Date.now() - started > 30_000) {
        clearInterval(timer);
        proc.kill('SIGKILL');
        rej(new Error(`the server did not start:\n${log}`));
      }
    }, 50);
  });
  const url = `http://${addr}`;
  const service = token('platform', 'service', 'Platform');

  async function http(method, path, tok, body) {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  return {
    url,
    logs: () => log,
    /** Registers an order as the platform (`PUT /api/orders/:id`). */
    order: (orderId, { number, status = 'created', participants }) =>
      http('PUT', `/api/orders/${encodeURIComponent(orderId)}`, service, { number, status, participants }),
    /** Changes an order as the platform (`PATCH /api/orders/:id`), e.g. its status. */
    patchOrder: (orderId, fields) => http('PATCH', `/api/orders/${encodeURIComponent(orderId)}`, service, fields),
    /** Sends a message over HTTP and returns it. */
    send: async (tok, orderId, message) => (await http('POST', '/api/chat/messages', tok, { orderId, message })).data,
    /** Moves the caller's read pointer to the latest message. */
    markRead: (tok, orderId) => http('PATCH', `/api/chat/orders/${encodeURIComponent(orderId)}/read`, tok, {}),
    /** Every stored message of an order, oldest first. */
    async history(tok, orderId) {
      const all = [];
      for (let after = 0; ;) {
        const page = await http('GET', `/api/chat/orders/${encodeURIComponent(orderId)}/messages?after=${after}&limit=200`, tok);
        all.push(...page.data);
        if (!page.meta.hasMore || page.data.length === 0) return all;
        after = page.meta.nextCursor;
      }
    },
    /** SIGTERM, wait for the exit, remove the data; throws if the log holds a Rust panic. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await closed;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      if (log.includes('panicked')) throw new Error(`the server panicked:\n${log.slice(log.indexOf('panicked') - 300)}`);
    },
  };
}
