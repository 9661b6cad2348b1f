// The newcomer's path with no configuration: `orderchat serve` without a JWT key
// generates a development secret in the data directory (mode 0600) and says so;
// `orderchat token` signs with that same secret (or with ORDERCHAT_JWT_SECRET), and
// its tokens open HTTP and Socket.IO; --name and --ttl end up in the claims.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnServer, BIN, SECRET, id } from '../helpers.mjs';

const mint = (env, ...args) => execFileSync(BIN, ['token', ...args], {
  env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  encoding: 'utf8',
}).trim();
const claims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));

test('with no JWT key configured, serve generates a 0600 dev secret and `orderchat token` signs with it', async () => {
  const srv = await spawnServer({ ORDERCHAT_JWT_SECRET: undefined });
  try {
    assert.match(srv.logs(), /secret/i, 'the log does not mention the generated secret');
    const secretFiles = readdirSync(srv.dataDir).filter((f) => /secret|jwt|key/i.test(f));
    assert.ok(secretFiles.length > 0, `no secret file in ${readdirSync(srv.dataDir)}`);
    for (const f of secretFiles) {
      assert.equal(statSync(join(srv.dataDir, f)).mode & 0o777, 0o600, `${f} is not mode 0600`);
    }

    const t = mint({ ORDERCHAT_DATA_DIR: srv.dataDir }, '--sub', 'newbie', '--role', 'customer');
    assert.match(t, /^[\w-]+\.[\w-]+\.[\w-]+$/, `not a JWT: ${t}`);
    const res = await srv.http('GET', '/api/chat/orders', t);
    assert.equal(res.status, 200, res.text);
    const s = await srv.connect(t);
    assert.ok(s.connected);
    s.close();

    // A token signed with some other secret is still refused.
    const other = mint({ ORDERCHAT_JWT_SECRET: 'some-other-secret-entirely-0000000000' }, '--sub', 'newbie', '--role', 'customer');
    assert.equal((await srv.http('GET', '/api/chat/orders', other)).status, 401);
  } finally {
    await srv.stop();
  }
});

test('the dev secret survives a restart, so earlier tokens keep working', async () => {
  const first = await spawnServer({ ORDERCHAT_JWT_SECRET: undefined });
  const t = mint({ ORDERCHAT_DATA_DIR: first.dataDir }, '--sub', 'steady', '--role', 'customer');
  await first.stop({ removeDataDir: false });
  const second = await spawnServer({ ORDERCHAT_JWT_SECRET: undefined }, { dataDir: first.dataDir });
  try {
    assert.equal((await second.http('GET', '/api/chat/orders', t)).status, 200);
  } finally {
    await second.stop({ removeDataDir: true });
  }
});

test('`orderchat token` with ORDERCHAT_JWT_SECRET mints tokens the server accepts, with --name and --ttl', async () => {
  const srv = await spawnServer();
  try {
    const orderId = id('order');
    await srv.order(orderId, { cli: 'driver' });
    const t = mint({ ORDERCHAT_JWT_SECRET: SECRET }, '--sub', 'cli', '--role', 'driver', '--name', 'Cli Driver', '--ttl', '30m');
    const c = claims(t);
    assert.equal(c.sub, 'cli');
    assert.equal(c.role, 'driver');
    assert.equal(c.name, 'Cli Driver');
    const lifetime = c.exp - Math.floor(Date.now() / 1000);
    assert.ok(lifetime > 1700 && lifetime <= 1800, `--ttl 30m gave exp in ${lifetime} s`);
    const sent = await srv.send(t, orderId, 'hello from the command line');
    assert.equal(sent.user.id, 'cli');
  } finally {
    await srv.stop();
  }
});
