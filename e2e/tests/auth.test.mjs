// Authentication: which tokens open a Socket.IO connection and an HTTP request, and
// which are refused (no token, wrong secret, expired, alg none, other algorithm, no exp,
// token only in the query string); the `sub` → `id` → `userId` claim fallback; the
// handshake Authorization header; the default polling→websocket transport; and that
// tokens never show up in the server log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, signJwt, token, id, emitAck, SECRET } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer(); });
after(async () => { await srv?.stop(); });

const now = () => Math.floor(Date.now() / 1000);
const used = []; // every token this file used, to check the log at the end
const remember = (t) => { used.push(t); return t; };

const badTokens = {
  'no token': () => undefined,
  'a bad signature': () => token('mallory', 'customer', {}, 'not-the-server-secret-at-all-0000000000'),
  'an expired token': () => token('mallory', 'customer', { exp: now() - 600 }),
  'alg none': () => signJwt({ sub: 'mallory', role: 'admin', exp: now() + 3600 }, SECRET, { alg: 'none', typ: 'JWT' }),
  'another HMAC algorithm (HS512)': () => signJwt({ sub: 'mallory', role: 'customer', exp: now() + 3600 }, SECRET, { alg: 'HS512', typ: 'JWT' }),
  'a token without exp': () => token('mallory', 'customer', { exp: undefined }),
  'a key named in the header (jwk) signed with that key': () => signJwt(
    { sub: 'mallory', role: 'admin', exp: now() + 3600 },
    'attacker-key',
    { alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: Buffer.from('attacker-key').toString('base64url') } },
  ),
  'garbage': () => 'not.a.jwt',
};

for (const [what, make] of Object.entries(badTokens)) {
  test(`socket connection with ${what} is refused with "Authentication error"`, async () => {
    const t = make();
    if (t) remember(t);
    const err = await srv.connectError(t);
    assert.match(err.message, /^Authentication error/, `connect_error message was: ${err.message}`);
  });

  test(`HTTP request with ${what} gets 401 unauthenticated`, async () => {
    const t = make();
    if (t) remember(t);
    const res = await srv.http('GET', '/api/chat/orders', t);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'unauthenticated');
    assert.equal(typeof res.body.message, 'string');
  });
}

test('HTTP with a non-Bearer Authorization header gets 401', async () => {
  const res = await srv.http('GET', '/api/chat/orders', undefined, undefined, {
    authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}`,
  });
  assert.equal(res.status, 401, res.text);
  assert.equal(res.body.code, 'unauthenticated');
});

test('a token only in the query string is ignored (socket and HTTP)', async () => {
  const t = remember(token('quincy', 'customer'));
  const err = await srv.connectError(undefined, { query: { token: t } });
  assert.match(err.message, /^Authentication error/);
  const res = await srv.http('GET', `/api/chat/orders?token=${t}`);
  assert.equal(res.status, 401, res.text);
});

test('a valid token in auth.token connects, and HTTP with it succeeds', async () => {
  const t = remember(token('valid-user', 'customer'));
  const s = await srv.connect(t);
  assert.ok(s.connected);
  s.close();
  const res = await srv.http('GET', '/api/chat/orders', t);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.success, true);
  assert.ok(Array.isArray(res.body.data));
});

test('the token may come in the Authorization header of the handshake', async () => {
  const t = remember(token('header-user', 'customer'));
  const s = await srv.connect(undefined, { extraHeaders: { Authorization: `Bearer ${t}` } });
  assert.ok(s.connected);
  s.close();
});

test('the client default transport (long-polling, then upgrade) works too', async () => {
  const orderId = id('poll-order');
  const user = id('poller');
  await srv.order(orderId, { [user]: 'customer' });
  const t = remember(token(user, 'customer'));
  const s = await srv.connect(t, { transports: ['polling', 'websocket'] });
  const ack = await emitAck(s, 'join-order-room', orderId);
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const sent = await emitAck(s, 'send-message', { orderId, message: 'over polling' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  s.close();
});

for (const claim of ['id', 'userId']) {
  test(`a token with "${claim}" instead of "sub" identifies the user`, async () => {
    const user = id(`${claim}-user`);
    const orderId = id('claim-order');
    await srv.order(orderId, { [user]: 'customer' });
    const t = remember(token(undefined, 'customer', { sub: undefined, [claim]: user, name: 'Legacy' }));

    const s = await srv.connect(t);
    const joined = await emitAck(s, 'join-order-room', orderId);
    assert.equal(joined.ok, true, `participant ${user} could not join: ${JSON.stringify(joined)}`);
    const sent = await emitAck(s, 'send-message', { orderId, message: 'hi from an old token' });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.equal(sent.message.user.id, user);
    s.close();

    const res = await srv.http('GET', `/api/chat/orders/${orderId}/unread-count`, t);
    assert.equal(res.status, 200, res.text);
  });
}

test('a numeric id claim is accepted as the user id', async () => {
  const orderId = id('numeric-order');
  await srv.order(orderId, { 4242: 'customer' });
  const t = remember(token(undefined, 'customer', { sub: undefined, id: 4242 }));
  const msg = await srv.send(t, orderId, 'numeric');
  assert.equal(msg.user.id, '4242');
});

test('no token ever appears in the server log', () => {
  const log = srv.logs();
  assert.ok(log.length > 0);
  for (const t of used) {
    const signature = t.split('.')[2];
    assert.ok(!log.includes(t), 'a whole token was logged');
    if (signature && signature.length > 10) assert.ok(!log.includes(signature), 'a token signature was logged');
  }
});
