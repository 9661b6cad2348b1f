// Starts a real `orderchat serve` for the generator and the tests: a fresh data
// directory, port 0 (the address is read from the log line "listening on …"), a fixed
// test JWT secret. `stop()` sends SIGTERM, waits, and throws if the log shows a panic.
//
// The binary is `$ORDERCHAT_BIN`, else the workspace build `../../../target/debug/orderchat`
// (relative to this package).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = process.env.ORDERCHAT_BIN || resolve(packageDir, '../../../target/debug/orderchat');
export const SECRET = 'client-test-secret-0123456789-abcdefghijkl';

/**
 * Start the server; `env` adds ORDERCHAT_* settings. Resolves to
 * `{ url, logs(), stop(), kill(), restart() }` once the server listens.
 */
export async function startServer(env = {}) {
  if (!existsSync(BIN)) throw new Error(`orderchat binary not found at ${BIN} (set ORDERCHAT_BIN, or cargo build)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-client-'));
  let log = '';
  let proc;
  let exited;
  let url;

  const launch = async (bind) => {
    log += `\n--- start (bind ${bind}) ---\n`;
    proc = spawn(BIN, ['serve'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NO_COLOR: '1',
        ORDERCHAT_BIND: bind,
        ORDERCHAT_DATA_DIR: dataDir,
        ORDERCHAT_JWT_SECRET: SECRET,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A test process that dies without stopping its server must not leave it running.
    const child = proc;
    const reap = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
    process.once('exit', reap);
    child.once('close', () => process.off('exit', reap));
    const from = log.length;
    const keep = (chunk) => { log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, ''); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    exited = new Promise((res) => proc.once('close', (code, signal) => res({ code, signal })));
    const addr = await new Promise((res, rej) => {
      const timer = setTimeout(() => done(new Error('server did not log "listening" within 60 s')), 60_000);
      const poll = setInterval(() => {
        const m = /listening.*?(127\.0\.0\.1:\d+)/.exec(log.slice(from));
        if (m) done(null, m[1]);
      }, 20);
      const done = (err, value) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (err) { proc.kill('SIGKILL'); rej(new Error(`${err.message}\n--- server log ---\n${log}`)); } else res(value);
      };
      exited.then(({ code, signal }) => done(new Error(`server exited early (code ${code}, signal ${signal})`)));
    });
    url = `http://${addr}`;
  };

  const assertNoPanic = () => {
    if (log.includes('panicked')) throw new Error(`the server panicked:\n${log.slice(Math.max(0, log.indexOf('panicked') - 500), log.indexOf('panicked') + 1500)}`);
  };

  const halt = async (signal) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    let timer;
    const result = await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 20_000, null); })]);
    clearTimeout(timer);
    if (!result) { proc.kill('SIGKILL'); await exited; }
  };

  await launch('127.0.0.1:0');
  return {
    get url() { return url; },
    dataDir,
    logs: () => log,
    assertNoPanic,
    /** SIGTERM, wait, remove the data directory; throws on a panic in the log. */
    async stop() {
      await halt('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
      assertNoPanic();
    },
    /** Stop (SIGTERM) and start again on the same port and data: the clients' connections drop. */
    async restart() {
      const bind = url.slice('http://'.length);
      await halt('SIGTERM');
      assertNoPanic();
      for (let attempt = 0; ; attempt += 1) {
        try { await launch(bind); return; } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}
