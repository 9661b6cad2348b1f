// A Socket.IO connection lives no longer than its token (SPEC §2, §5): when `exp`
// plus the leeway (0 s here) passes, the server emits `session-expired { reason }` and
// disconnects. `refresh-token { token }` with a newer token of the same user extends
// the connection; any other token is refused and changes nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, disconnected, eventually, TIMEOUT } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer({ ORDERCHAT_JWT_LEEWAY_SECS: '0' }); });
after(async () => { await srv?.stop(); });

const nowSecs = () => Math.floor(Date.now() / 1000);
/** Resolves once the wall clock is past `exp` by `margin` seconds. */
const pastExp = (exp, margin = 2) =>
  eventually(() => Date.now() > (exp + margin) * 1000, `the clock passed exp + ${margin} s`, (exp + margin) * 1000 - Date.now() + TIMEOUT);

/** A customer in a fresh order, connected with a token that expires in 2 s and joined. */
async function shortLivedConnection() {
  const orderId = id('order');
  const ana = id('ana');
  await srv.order(orderId, { [ana]: 'customer' });
  const exp = nowSecs() + 2;
  const socket = await srv.connect(token(ana, 'customer', { exp }));
  assert.equal((await emitAck(socket, 'join-order-room', orderId)).ok, true);
  return { orderId, ana, exp, socket };
}

test('a connection whose token expires gets session-expired and is disconnected', async () => {
  const { exp, socket } = await shortLivedConnection();
  const gone = disconnected(socket, 15_000);
  const expired = await waitFor(socket, 'session-expired', () => true, 15_000);
  assert.equal(typeof expired.reason, 'string');
  assert.equal(await gone, 'io server disconnect');
  assert.ok(Date.now() >= exp * 1000, 'disconnected before the token expired');
});

test('refresh-token with a newer token of the same user keeps the connection open', async () => {
  const { orderId, ana, exp, socket } = await shortLivedConnection();

  const later = nowSecs() + 3600;
  const ack = await emitAck(socket, 'refresh-token', { token: token(ana, 'customer', { exp: later }) });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.validUntil, later);

  await pastExp(exp);
  assert.equal(socket.connected, true, 'disconnected although the token was refreshed');
  const sent = await emitAck(socket, 'send-message', { orderId, message: 'still here' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  assert.equal(socket.received.filter((r) => r.event === 'session-expired').length, 0);
});

test('refresh-token refuses another user, another role and invalid tokens', async () => {
  const ana = id('ana');
  const exp = nowSecs() + 3600;
  const socket = await srv.connect(token(ana, 'customer', { exp }));
  const cases = [
    [{ token: token(id('mallory'), 'customer') }, 'forbidden'],
    [{ token: token(ana, 'dispatcher') }, 'forbidden'],
    [{ token: token(ana, 'customer', { exp: nowSecs() - 600 }) }, 'unauthenticated'],
    [{ token: token(ana, 'customer', {}, 'not-the-server-secret-0123456789') }, 'unauthenticated'],
    [{ token: 'garbage' }, 'unauthenticated'],
    [{}, 'invalid_field'],
    [42, 'invalid_field'],
  ];
  for (const [payload, code] of cases) {
    const ack = await emitAck(socket, 'refresh-token', payload);
    assert.equal(ack.ok, false, `${JSON.stringify(payload)} accepted`);
    assert.equal(ack.code, code, JSON.stringify(ack));
  }
  assert.equal(socket.connected, true, 'a refused refresh must not end the connection');
});

test('a refused refresh leaves the old expiry in force', async () => {
  const ana = id('ana');
  const exp = nowSecs() + 2;
  const socket = await srv.connect(token(ana, 'customer', { exp }));
  const ack = await emitAck(socket, 'refresh-token', { token: token(id('someone-else'), 'customer') });
  assert.equal(ack.ok, false);
  await waitFor(socket, 'session-expired', () => true, 15_000);
  await disconnected(socket, 15_000);
});
