// The push webhook (SPEC §5, README "Push webhook"): users with no connection at all get
// a signed POST from the durable outbox. A local HTTP receiver verifies every signature
// the way the README tells gateways to. The push for a burst arrives exactly once (one
// idempotency key, the burst's count) although the receiver fails the first attempts and
// the server restarts in between; a receiver that never answers ends in the dead-letter
// count; a muted user, a user with a live connection and the author get nothing; a start
// with a URL but no secret, or with a URL that is not http(s), is refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, token, id, eventually, sleep, waitFor, dropPostgresDatabaseOf } from '../helpers.mjs';

const HOOK_SECRET = 'e2e-webhook-secret-do-not-log-0123456789';

/**
 * A local webhook receiver. `answer(attempt)` says what to answer: an HTTP status, or
 * 'hang' to never answer. Every attempt is kept with whether its signature verified.
 */
async function startReceiver(answer) {
  const attempts = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const attempt = {
        at: Date.now(),
        contentType: req.headers['content-type'],
        timestamp: req.headers['x-orderchat-timestamp'],
        signatureValid: verify(raw, req.headers['x-orderchat-timestamp'], req.headers['x-orderchat-signature']),
        body: JSON.parse(raw.toString('utf8')),
      };
      attempts.push(attempt);
      const status = answer(attempt);
      attempt.status = status;
      if (status === 'hang') return; // never answered: the server's timeout ends it
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/push`,
    attempts,
    accepted: () => attempts.filter((a) => a.status >= 200 && a.status < 300),
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

/** What the README shows a receiver doing: a fresh timestamp and the HMAC, compared in constant time. */
function verify(raw, timestamp, signature) {
  if (!timestamp || !signature) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = 'sha256=' + createHmac('sha256', HOOK_SECRET).update(`${timestamp}.`).update(raw).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

const hookEnv = (url, extra = {}) => ({
  ORDERCHAT_PUSH_WEBHOOK_URL: url,
  ORDERCHAT_PUSH_WEBHOOK_SECRET: HOOK_SECRET,
  ORDERCHAT_PUSH_WEBHOOK_TIMEOUT_MS: '1000',
  ORDERCHAT_PUSH_WEBHOOK_RETRY_BASE_MS: '200',
  ...extra,
});

const metric = async (srv, name) => {
  const text = (await srv.http('GET', '/metrics')).text;
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

test('a burst for an offline user is pushed exactly once, signed, although the receiver fails and the server restarts in between', { timeout: 90_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderchat-e2e-webhook-'));
  let restarted = false;
  let failedAfterRestart = false;
  // Fails every attempt before the restart and the first one after it.
  const receiver = await startReceiver(() => {
    if (!restarted) return 500;
    if (!failedAfterRestart) { failedAfterRestart = true; return 500; }
    return 200;
  });
  // A second for the rest of the burst to join the push before its first attempt.
  const env = hookEnv(receiver.url, { ORDERCHAT_PUSH_WEBHOOK_DELAY_MS: '1500' });
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  const ct = token(ana, 'customer');
  let second;
  try {
    const first = await spawnServer(env, { dataDir });
    assert.equal(await metric(first, 'orderchat_push_webhook_delivered_total'), 0, 'declared at 0 from the start');
    await first.order(orderId, { [ana]: 'customer', [dan]: 'driver' }, { number: 'W-1' });
    const burst = [];
    for (let i = 0; i < 5; i++) burst.push(await first.send(ct, orderId, `burst ${i}`));
    const last = burst.at(-1);

    await eventually(() => receiver.attempts.length >= 1, 'the first attempt reached the receiver', 15_000);
    const exit = await first.stop({ removeDataDir: false });
    assert.deepEqual(exit, { code: 0, signal: null });
    const beforeRestart = receiver.attempts.length;
    restarted = true;

    second = await spawnServer(env, { dataDir });
    await eventually(() => receiver.accepted().length === 1, 'the push was accepted after the restart', 20_000);
    await sleep(1500); // nothing more may come
    assert.equal(receiver.accepted().length, 1, 'accepted exactly once');
    assert.equal(receiver.attempts.length, beforeRestart + 2, 'one failed attempt after the restart, then the accepted one');
    assert.ok(receiver.attempts.every((a) => a.signatureValid), 'every attempt carries a valid signature');
    assert.ok(receiver.attempts.every((a) => a.contentType === 'application/json'));
    const keys = new Set(receiver.attempts.map((a) => a.body.idempotencyKey));
    assert.equal(keys.size, 1, `one idempotency key across every attempt and the restart: ${[...keys]}`);
    const { body } = receiver.accepted()[0];
    assert.deepEqual(body, {
      idempotencyKey: [...keys][0],
      userId: dan,
      orderId,
      type: 'new-message',
      title: `New message from Name ${ana} (order W-1)`,
      message: 'burst 4',
      count: 5,
      messageId: last.id,
      seq: last.seq,
      createdAt: last.createdAt,
    });
    assert.ok(receiver.attempts.every((a) => a.body.userId === dan), 'the author gets no push');
    assert.equal(await metric(second, 'orderchat_push_webhook_delivered_total'), 1);
    assert.ok(await metric(second, 'orderchat_push_webhook_failed_attempts_total') >= 1);
    assert.ok(!second.logs().includes(HOOK_SECRET), 'the secret is never logged');
  } finally {
    if (second) await second.stop({ removeDataDir: false });
    await receiver.close();
    dropPostgresDatabaseOf(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a receiver that never answers: the push is retried until its maximum age, then counted as a dead letter', { timeout: 60_000 }, async () => {
  const receiver = await startReceiver(() => 'hang');
  const srv = await spawnServer(hookEnv(receiver.url, {
    ORDERCHAT_PUSH_WEBHOOK_TIMEOUT_MS: '200',
    ORDERCHAT_PUSH_WEBHOOK_RETRY_BASE_MS: '50',
    ORDERCHAT_PUSH_WEBHOOK_MAX_AGE_SECS: '2',
    ORDERCHAT_PUSH_WEBHOOK_DELAY_MS: '0',
  }));
  try {
    assert.equal(await metric(srv, 'orderchat_push_webhook_dead_letters_total'), 0, 'declared at 0 from the start');
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    await srv.send(token(ana, 'customer'), orderId, 'anyone there?');

    await eventually(async () => (await metric(srv, 'orderchat_push_webhook_dead_letters_total')) === 1,
      'the push became a dead letter', 20_000);
    assert.ok(receiver.attempts.length >= 2, `retried before giving up (${receiver.attempts.length} attempts)`);
    assert.ok(await metric(srv, 'orderchat_push_webhook_failed_attempts_total') >= receiver.attempts.length);
    assert.equal(new Set(receiver.attempts.map((a) => a.body.idempotencyKey)).size, 1);
    assert.ok(receiver.attempts.every((a) => a.signatureValid));
    const spent = receiver.attempts.length;
    await eventually(async () => /^orderchat_push_webhook_outbox\{state="dead"\} 1$/m.test((await srv.http('GET', '/metrics')).text),
      'the outbox gauge shows the dead letter', 10_000);
    await sleep(1000);
    assert.equal(receiver.attempts.length, spent, 'a dead letter is not sent again');
    assert.equal(await metric(srv, 'orderchat_push_webhook_delivered_total'), 0);
  } finally {
    await srv.stop();
    await receiver.close();
  }
});

test('SIGTERM while a push hangs: the server stops within its grace period and exits 0', { timeout: 60_000 }, async () => {
  const receiver = await startReceiver(() => 'hang');
  const srv = await spawnServer(hookEnv(receiver.url, {
    ORDERCHAT_PUSH_WEBHOOK_TIMEOUT_MS: '60000',
    ORDERCHAT_PUSH_WEBHOOK_DELAY_MS: '0',
    ORDERCHAT_SHUTDOWN_GRACE_SECS: '2',
  }));
  try {
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    await srv.send(token(ana, 'customer'), orderId, 'are you there?');
    await eventually(() => receiver.attempts.length === 1, 'the push is under way');
    const started = Date.now();
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
    assert.ok(Date.now() - started < 10_000, `stopping took ${Date.now() - started} ms`);
  } finally {
    await srv.stop();
    await receiver.close();
  }
});

let shared; // one server and an always-accepting receiver for the tests of who gets a push
before(async () => {
  const receiver = await startReceiver(() => 204);
  const srv = await spawnServer(hookEnv(receiver.url, { ORDERCHAT_PUSH_WEBHOOK_DELAY_MS: '0' }));
  shared = { receiver, srv };
});
after(async () => {
  await shared?.srv.stop();
  await shared?.receiver.close();
});

/** An order of an author and `others` (drivers); returns ids and the author's token. */
async function sharedOrder(others) {
  const orderId = id('order');
  const ana = id('ana');
  const users = Object.fromEntries(others.map((o) => [o, 'driver']));
  await shared.srv.order(orderId, { [ana]: 'customer', ...users });
  return { orderId, ana, ct: token(ana, 'customer') };
}

const pushesTo = (userId, orderId) => shared.receiver.attempts.filter((a) => a.body.userId === userId && a.body.orderId === orderId);

test('a user who muted the order gets no push; one who did not does', async () => {
  const [dan, fay] = [id('dan'), id('fay')];
  const { orderId, ana, ct } = await sharedOrder([dan, fay]);
  const mute = await shared.srv.http('PUT', `/api/chat/orders/${orderId}/mute`, token(dan, 'driver'));
  assert.equal(mute.status, 200, mute.text);
  const sent = await shared.srv.send(ct, orderId, 'muted or not');
  await eventually(() => pushesTo(fay, orderId).length === 1, 'the push to the user who did not mute');
  assert.equal(pushesTo(fay, orderId)[0].body.messageId, sent.id);
  assert.ok(pushesTo(fay, orderId)[0].signatureValid);
  await sleep(500);
  assert.deepEqual(pushesTo(dan, orderId), [], 'a muted order pushed to its user');
  assert.deepEqual(pushesTo(ana, orderId), [], 'the author got a push');
  assert.ok(!shared.srv.logs().includes(HOOK_SECRET), 'the secret is never logged');
});

test('a user with a live connection gets no push (a live notification instead); an offline one does, also for a status change', async () => {
  const [eve, fay] = [id('eve'), id('fay')];
  const { orderId, ct } = await sharedOrder([eve, fay]);
  const phone = await shared.srv.connect(token(eve, 'driver')); // connected, not in the room
  try {
    const sent = await shared.srv.send(ct, orderId, 'who is online?');
    await eventually(() => pushesTo(fay, orderId).length === 1, 'the push to the offline user');
    assert.equal(pushesTo(fay, orderId)[0].body.messageId, sent.id);
    await waitFor(phone, 'notification', (e) => e.orderId === orderId && e.messageId === sent.id);
    await sleep(500);
    assert.deepEqual(pushesTo(eve, orderId), [], 'a connected user got a push');

    const status = await shared.srv.http('PATCH', `/api/orders/${orderId}`, token('platform', 'service'), { status: 'in_transit' });
    assert.equal(status.status, 200, status.text);
    await eventually(() => pushesTo(fay, orderId).some((a) => a.body.type === 'order-status'), 'the status change pushed');
    await sleep(300);
    assert.deepEqual(pushesTo(eve, orderId), []);
  } finally {
    phone.close();
  }
});

test('the server refuses to start with a webhook URL but no secret, or a URL that is not http(s)', async () => {
  for (const [env, why] of [
    [{ ORDERCHAT_PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/push' },
      /ORDERCHAT_PUSH_WEBHOOK_SECRET is required when ORDERCHAT_PUSH_WEBHOOK_URL is set/],
    [{ ORDERCHAT_PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/push', ORDERCHAT_PUSH_WEBHOOK_SECRET: '' },
      /ORDERCHAT_PUSH_WEBHOOK_SECRET is required/],
    [{ ORDERCHAT_PUSH_WEBHOOK_URL: 'ftp://gateway.example/push', ORDERCHAT_PUSH_WEBHOOK_SECRET: HOOK_SECRET },
      /ORDERCHAT_PUSH_WEBHOOK_URL must be an http:\/\/ or https:\/\/ URL/],
    [{ ORDERCHAT_PUSH_WEBHOOK_URL: 'not a url', ORDERCHAT_PUSH_WEBHOOK_SECRET: HOOK_SECRET },
      /ORDERCHAT_PUSH_WEBHOOK_URL is not a URL/],
  ]) {
    await assert.rejects(spawnServer(env), (err) => {
      assert.match(err.message, /exited early/, err.message);
      assert.match(err.message, why, err.message);
      assert.ok(!err.message.includes(HOOK_SECRET), 'the secret is never logged');
      return true;
    });
  }
});
