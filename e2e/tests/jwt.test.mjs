// The JWT matrix, on both HTTP (`Authorization: Bearer` on `GET /api/chat/orders`) and the
// Socket.IO handshake (`auth.token`): `alg: none`, wrong secret, expired, `nbf` in the
// future, issuer and audience (missing or wrong, when configured), tokens only in the
// query string, HS256 signed with the configured RSA public key (algorithm confusion),
// RS256 with the real key, and RS256 tokens whose header names the attacker's own key
// (`jwk`, `jku`, `x5u`). Each configuration also accepts a valid token on both transports,
// so every refusal is a refusal of that token, not of everything.
//
// Times are far outside the server's clock leeway (default 30 s), so no case depends on it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, signJwt, SECRET } from '../helpers.mjs';

const now = () => Math.floor(Date.now() / 1000);
const HOUR = 3600;
const claims = (extra = {}) => ({ sub: 'jwt-user', role: 'customer', name: 'JWT User', exp: now() + HOUR, ...extra });
const hs256 = (payload, secret = SECRET) => signJwt(payload, secret, { alg: 'HS256', typ: 'JWT' });
const without = (obj, key) => Object.fromEntries(Object.entries(obj).filter(([k]) => k !== key));

/** One test per transport: the token is accepted. */
function accepted(what, getSrv, make) {
  test(`socket: ${what} connects`, async () => {
    const s = await getSrv().connect(make());
    assert.ok(s.connected);
    s.close();
  });
  test(`HTTP: ${what} gets 200`, async () => {
    const res = await getSrv().http('GET', '/api/chat/orders', make());
    assert.equal(res.status, 200, `expected 200, got ${res.status} ${res.text}`);
    assert.equal(res.body.success, true);
  });
}

/** One test per transport: the token is refused (connect_error "Authentication error…", HTTP 401). */
function refused(what, getSrv, make) {
  test(`socket: ${what} is refused with "Authentication error"`, async () => {
    const err = await getSrv().connectError(make());
    assert.match(err.message, /^Authentication error/, `connect_error message was: ${err.message}`);
  });
  test(`HTTP: ${what} gets 401 unauthenticated`, async () => {
    const res = await getSrv().http('GET', '/api/chat/orders', make());
    assert.equal(res.status, 401, `expected 401, got ${res.status} ${res.text}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'unauthenticated');
  });
}

describe('HS256 secret', () => {
  let srv;
  before(async () => { srv = await spawnServer(); });
  after(async () => { await srv?.stop(); });
  const get = () => srv;
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  accepted('a valid HS256 token', get, () => hs256(claims()));
  refused('alg: none', get, () => signJwt(claims({ role: 'admin' }), SECRET, { alg: 'none', typ: 'JWT' }));
  refused('a token signed with the wrong secret', get, () => hs256(claims(), 'wrong-secret-wrong-secret-wrong-secret'));
  refused('a token expired an hour ago', get, () => hs256(claims({ exp: now() - HOUR, iat: now() - 2 * HOUR })));
  refused('a token whose nbf is an hour ahead', get, () => hs256(claims({ nbf: now() + HOUR })));
  refused('an RS256 token (not the configured algorithm)', get, () => signJwt(claims(), attacker.privateKey, { alg: 'RS256', typ: 'JWT' }));

  test('socket: a token only in the handshake query string is refused (websocket and polling)', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const err = await srv.connectError(undefined, { query: { token: hs256(claims()) }, transports });
      assert.match(err.message, /^Authentication error/, `${transports}: connect_error message was: ${err.message}`);
    }
  });
  test('HTTP: a token only in ?token= gets 401', async () => {
    const res = await srv.http('GET', `/api/chat/orders?token=${hs256(claims())}`);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.body.code, 'unauthenticated');
  });
});

describe('issuer and audience configured', () => {
  const ISS = 'https://issuer.e2e.test';
  const AUD = 'orderchat-e2e';
  let srv;
  before(async () => { srv = await spawnServer({ ORDERCHAT_JWT_ISSUER: ISS, ORDERCHAT_JWT_AUDIENCE: AUD }); });
  after(async () => { await srv?.stop(); });
  const get = () => srv;
  const good = () => claims({ iss: ISS, aud: AUD });

  accepted('a token with the right iss and aud', get, () => hs256(good()));
  accepted('a token with the right iss and aud among several', get, () => hs256({ ...good(), aud: ['someone-else', AUD] }));
  refused('a token without iss', get, () => hs256(without(good(), 'iss')));
  refused('a token with the wrong iss', get, () => hs256({ ...good(), iss: 'https://evil.e2e.test' }));
  refused('a token without aud', get, () => hs256(without(good(), 'aud')));
  refused('a token with the wrong aud', get, () => hs256({ ...good(), aud: 'another-service' }));
});

describe('RSA public key configured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-jwt-'));
  const issuer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = issuer.publicKey.export({ type: 'spki', format: 'pem' });
  const pemPath = join(dir, 'issuer-public.pem');
  writeFileSync(pemPath, pem);
  const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'RS256', use: 'sig' };

  // Where an attacker would host the keys its tokens point to; the server must never ask.
  const fetched = [];
  const keyHost = createServer((req, res) => {
    fetched.push(req.url);
    res.setHeader('content-type', 'application/json');
    res.end(req.url.startsWith('/jwks') ? JSON.stringify({ keys: [attackerJwk] }) : attacker.publicKey.export({ type: 'spki', format: 'pem' }));
  });
  let keyUrl;
  let srv;
  before(async () => {
    await new Promise((res) => keyHost.listen(0, '127.0.0.1', res));
    keyUrl = `http://127.0.0.1:${keyHost.address().port}`;
    srv = await spawnServer({ ORDERCHAT_JWT_PUBLIC_KEY: pemPath, ORDERCHAT_JWT_SECRET: undefined });
  });
  after(async () => {
    await srv?.stop();
    await new Promise((res) => keyHost.close(res));
    rmSync(dir, { recursive: true, force: true });
  });
  const get = () => srv;
  const rs256 = (key, header = {}) => signJwt(claims(), key, { alg: 'RS256', typ: 'JWT', ...header });

  accepted('an RS256 token signed with the issuer key', get, () => rs256(issuer.privateKey));
  refused('an HS256 token using the public key PEM as HMAC secret', get, () => hs256(claims(), pem));
  refused('an HS256 token using the public key PEM (trimmed) as HMAC secret', get, () => hs256(claims(), pem.trim()));
  refused('an RS256 token signed with the attacker key, no key in the header', get, () => rs256(attacker.privateKey));
  refused('an RS256 token signed with the attacker key carried as header jwk', get, () => rs256(attacker.privateKey, { jwk: attackerJwk, kid: 'attacker' }));
  refused('an RS256 token signed with the attacker key named by header jku', get, () => rs256(attacker.privateKey, { jku: `${keyUrl}/jwks.json`, kid: 'attacker' }));
  refused('an RS256 token signed with the attacker key named by header x5u', get, () => rs256(attacker.privateKey, { x5u: `${keyUrl}/x5u.pem` }));

  test('the server never fetched a key from a URL named in a token', () => {
    assert.deepEqual(fetched, []);
  });
});
