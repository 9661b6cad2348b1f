// Limits and refusals that need their own configuration: the per-user message rate
// (HTTP and socket together → 429 with Retry-After / rate_limited ack), the typing
// rate, the configured message length, the HTTP body size (413), connections per user,
// an oversized WebSocket frame, and CORS / the WebSocket Origin check. Every refusal
// must leave the server and the other users unharmed.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, received, settle, history, eventually, disconnected } from '../helpers.mjs';

const servers = [];
async function start(env) {
  const srv = await spawnServer(env);
  servers.push(srv);
  return srv;
}
after(async () => { for (const s of servers) await s.stop(); });

test('over the message rate a user gets 429 with Retry-After on HTTP and rate_limited on the socket, counted together', async () => {
  const srv = await start({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '2', ORDERCHAT_MESSAGE_BURST: '3' });
  const orderId = id('order');
  await srv.order(orderId, { chatty: 'customer', calm: 'driver' });
  const ct = token('chatty', 'customer');
  const s = await srv.connect(ct);

  await srv.send(ct, orderId, 'http 1');
  await srv.send(ct, orderId, 'http 2');
  const third = await emitAck(s, 'send-message', { orderId, message: 'socket 3' });
  assert.equal(third.ok, true, JSON.stringify(third));

  const refusedSocket = await emitAck(s, 'send-message', { orderId, message: 'socket 4' });
  assert.equal(refusedSocket.ok, false, 'the 4th message (burst 3) was accepted on the socket');
  assert.equal(refusedSocket.code, 'rate_limited');
  assert.equal(typeof refusedSocket.error, 'string');
  assert.equal(typeof refusedSocket.retryAfter, 'number');
  assert.ok(refusedSocket.retryAfter >= 1, `retryAfter ${refusedSocket.retryAfter}`);

  const refusedHttp = await srv.http('POST', '/api/chat/messages', ct, { orderId, message: 'http 5' });
  assert.equal(refusedHttp.status, 429, refusedHttp.text);
  assert.equal(refusedHttp.body.code, 'rate_limited');
  const retryAfter = refusedHttp.headers.get('retry-after');
  assert.match(retryAfter ?? '', /^\d+$/, `Retry-After header: ${retryAfter}`);
  assert.ok(Number(retryAfter) >= 1);

  // Another user is not affected; nothing refused was stored; the socket still works.
  const other = await srv.http('POST', '/api/chat/messages', token('calm', 'driver'), { orderId, message: 'me too' });
  assert.equal(other.status, 201, other.text);
  const msgs = await history(srv, ct, orderId);
  assert.deepEqual(msgs.map((m) => m.message), ['http 1', 'http 2', 'socket 3', 'me too']);
  assert.ok(s.connected);
  assert.equal((await emitAck(s, 'join-order-room', orderId)).ok, true);
  s.close();
});

test('typing events over the typing rate are refused and not relayed', async () => {
  const srv = await start({ ORDERCHAT_TYPING_RATE_PER_MINUTE: '1', ORDERCHAT_TYPING_BURST: '2' });
  const orderId = id('order');
  await srv.order(orderId, { typist: 'customer', reader: 'driver' });
  const typist = await srv.connect(token('typist', 'customer'));
  const reader = await srv.connect(token('reader', 'driver'));
  await emitAck(typist, 'join-order-room', orderId);
  await emitAck(reader, 'join-order-room', orderId);

  const acks = [];
  for (let i = 0; i < 5; i++) acks.push(await emitAck(typist, 'typing-start', orderId));
  assert.deepEqual(acks.slice(0, 2).map((a) => a.ok), [true, true], JSON.stringify(acks));
  for (const a of acks.slice(2)) {
    assert.equal(a.ok, false, `typing over the limit was accepted: ${JSON.stringify(acks)}`);
    assert.equal(a.code, 'rate_limited');
  }
  await waitFor(reader, 'user-typing', (e) => e.userId === 'typist' && e.isTyping === true);
  // Barrier: a message the reader receives after all typing events were handled.
  const sent = await emitAck(typist, 'send-message', { orderId, message: 'done typing' });
  await waitFor(reader, 'new-message', (e) => e.message.id === sent.message.id);
  await settle();
  const relayed = received(reader, 'user-typing', (e) => e.userId === 'typist' && e.isTyping === true);
  assert.ok(relayed.length <= 2, `${relayed.length} typing starts relayed over a burst of 2`);
  typist.close();
  reader.close();
});

test('ORDERCHAT_MAX_MESSAGE_LENGTH sets the length limit on HTTP and on the socket', async () => {
  const srv = await start({ ORDERCHAT_MAX_MESSAGE_LENGTH: '10' });
  const orderId = id('order');
  await srv.order(orderId, { brief: 'customer' });
  const bt = token('brief', 'customer');
  assert.equal((await srv.http('POST', '/api/chat/messages', bt, { orderId, message: '0123456789' })).status, 201);
  const long = await srv.http('POST', '/api/chat/messages', bt, { orderId, message: '0123456789x' });
  assert.equal(long.status, 400);
  assert.equal(long.body.code, 'message_too_long');
  const s = await srv.connect(bt);
  const ack = await emitAck(s, 'send-message', { orderId, message: '0123456789x' });
  assert.equal(ack.ok, false);
  assert.equal(ack.code, 'message_too_long');
  assert.equal((await emitAck(s, 'send-message', { orderId, message: 'short' })).ok, true);
  s.close();
});

test('a body over ORDERCHAT_MAX_BODY_BYTES is a 413 and the server carries on', async () => {
  const srv = await start({ ORDERCHAT_MAX_BODY_BYTES: '2048', ORDERCHAT_MAX_MESSAGE_LENGTH: '100000' });
  const orderId = id('order');
  await srv.order(orderId, { big: 'customer' });
  const bt = token('big', 'customer');
  const res = await srv.http('POST', '/api/chat/messages', bt, { orderId, message: 'x'.repeat(3000) });
  assert.equal(res.status, 413, res.text.slice(0, 200));
  assert.equal(res.body.code, 'payload_too_large');
  assert.equal((await srv.http('POST', '/api/chat/messages', bt, { orderId, message: 'small' })).status, 201);
});

test('the default body limit (64 KiB) refuses a 100 KB body with 413', async () => {
  const srv = await start({});
  const orderId = id('order');
  await srv.order(orderId, { big: 'customer' });
  const res = await srv.http('POST', '/api/chat/messages', token('big', 'customer'), { orderId, message: 'y'.repeat(100_000) });
  assert.equal(res.status, 413, res.text.slice(0, 200));
  assert.equal(res.body.code, 'payload_too_large');
});

test('connections over ORDERCHAT_MAX_CONNECTIONS_PER_USER are refused; others and freed slots still work', async () => {
  const srv = await start({ ORDERCHAT_MAX_CONNECTIONS_PER_USER: '2' });
  const ut = token('many-tabs', 'customer');
  const first = await srv.connect(ut);
  const second = await srv.connect(ut);
  const err = await srv.connectError(ut);
  assert.ok(err.message.length > 0);
  assert.ok(first.connected && second.connected, 'the refusal dropped the existing connections');

  const someoneElse = await srv.connect(token('one-tab', 'customer'));
  assert.ok(someoneElse.connected);

  first.close();
  await disconnected(first);
  const third = await eventually(async () => {
    try { return await srv.connect(ut); } catch { return null; }
  }, 'a slot frees up after a disconnect');
  assert.ok(third.connected);
  for (const s of [second, third, someoneElse]) s.close();
});

test('an oversized WebSocket frame drops that connection and harms nothing else', async () => {
  const srv = await start({});
  const orderId = id('order');
  await srv.order(orderId, { flood: 'customer', bystander: 'driver' });
  const flood = await srv.connect(token('flood', 'customer'));
  const bystander = await srv.connect(token('bystander', 'driver'));
  assert.equal((await emitAck(bystander, 'join-order-room', orderId)).ok, true);

  flood.emit('send-message', { orderId, message: 'z'.repeat(8 * 1024 * 1024) });
  await disconnected(flood, 10_000);

  const ok = await emitAck(bystander, 'send-message', { orderId, message: 'still fine' });
  assert.equal(ok.ok, true);
  assert.equal((await srv.http('GET', '/healthz')).status, 200);
  assert.deepEqual((await history(srv, token('bystander', 'driver'), orderId)).map((m) => m.message), ['still fine']);
  bystander.close();
});

test('CORS and the WebSocket Origin check follow ORDERCHAT_CORS_ORIGINS', async () => {
  const allowed = 'http://app.example.test';
  const srv = await start({ ORDERCHAT_CORS_ORIGINS: `${allowed},http://other.example.test` });
  const preflight = (origin) => srv.http('OPTIONS', '/api/chat/messages', undefined, undefined, {
    origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type',
  });
  const good = await preflight(allowed);
  assert.equal(good.headers.get('access-control-allow-origin'), allowed);
  const bad = await preflight('http://evil.example.test');
  assert.notEqual(bad.headers.get('access-control-allow-origin'), 'http://evil.example.test');
  assert.notEqual(bad.headers.get('access-control-allow-origin'), '*');

  const ut = token('web-user', 'customer');
  const s = await srv.connect(ut, { extraHeaders: { Origin: allowed } });
  assert.ok(s.connected);
  s.close();
  await srv.connectError(ut, { extraHeaders: { Origin: 'http://evil.example.test' } });
});

test('a binary Socket.IO packet closes that connection, is never handled, and harms nothing else', async () => {
  const srv = await start({});
  const orderId = id('order');
  await srv.order(orderId, { sender: 'customer', bystander: 'driver' });
  const st = token('sender', 'customer');
  const bystander = await srv.connect(token('bystander', 'driver'));
  assert.equal((await emitAck(bystander, 'join-order-room', orderId)).ok, true);

  // socket.io-client sends a Buffer as a binary event: a placeholder packet, then the
  // attachment as a binary WebSocket frame.
  const sender = await srv.connect(st);
  const gone = disconnected(sender, 10_000);
  sender.emit('send-message', { orderId, message: 'with a file', file: Buffer.alloc(60_000, 7) });
  await gone;

  // Long-polling, by hand: a binary event that announces an attachment that never
  // comes. The session is closed at once; nothing waits for the attachment.
  const open = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
  const sid = JSON.parse((await open.text()).slice(1)).sid;
  const poll = `${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  const post = (body) => fetch(poll, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body });
  assert.equal((await post(`40${JSON.stringify({ token: st })}`)).status, 200);
  // The namespace's CONNECT may come after the engine's first ping: poll (answering
  // pings) until it is there.
  let polled = '';
  for (let i = 0; i < 5 && !/(^|\x1e)40\{/.test(polled); i++) {
    const text = await (await fetch(poll)).text();
    polled += `\x1e${text}`;
    if (text.split('\x1e').includes('2')) await post('3');
  }
  assert.match(polled, /(^|\x1e)40\{/);
  await post(`451-["send-message",{"orderId":"${orderId}","message":"never","file":{"_placeholder":true,"num":0}}]`);
  await eventually(async () => {
    const res = await fetch(poll);
    const text = await res.text();
    return res.status === 400 || text.includes('1');
  }, 'the polling session is closed');

  const ok = await emitAck(bystander, 'send-message', { orderId, message: 'still fine' });
  assert.equal(ok.ok, true);
  assert.deepEqual((await history(srv, token('bystander', 'driver'), orderId)).map((m) => m.message), ['still fine']);
  bystander.close();
});

test('a connection that stops reading is dropped once ORDERCHAT_SOCKET_BUFFER_BYTES are queued for it; the room keeps receiving', { timeout: 120_000 }, async () => {
  // The packet bound is out of reach here: only the byte bound can drop the reader.
  const srv = await start({
    ORDERCHAT_SOCKET_BUFFER_BYTES: String(1024 * 1024),
    ORDERCHAT_SOCKET_BUFFER_PACKETS: '100000',
    ORDERCHAT_MAX_MESSAGE_LENGTH: '20000',
    ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000',
    ORDERCHAT_MESSAGE_BURST: '100000',
  });
  const orderId = id('order');
  await srv.order(orderId, { talker: 'customer', stalled: 'driver', reader: 'dispatcher' });
  const talker = await srv.connect(token('talker', 'customer'));
  const stalled = await srv.connect(token('stalled', 'driver'));
  const reader = await srv.connect(token('reader', 'dispatcher'));
  for (const s of [stalled, reader]) assert.equal((await emitAck(s, 'join-order-room', orderId)).ok, true);

  // The stalled client stops reading from its TCP connection (its app froze): the
  // kernel's buffers fill (a few MiB on loopback), then the server's queue for it.
  stalled.io.engine.transport.ws._socket.pause();
  // 600 × 20 KB = 12 MB: far past the kernel's buffers and the 1 MiB budget; sent 10
  // at a time, so that one burst (200 KB) fits a reading client's budget with room.
  const count = 600;
  const text = (n) => `${n} `.padEnd(20_000, 'x');
  for (let n = 0; n < count; n += 10) {
    const acks = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      emitAck(talker, 'send-message', { orderId, message: text(n + i) }, 30_000)));
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack).slice(0, 200));
  }

  const dropped = async () => {
    const res = await fetch(`${srv.url}/metrics`);
    const line = (await res.text()).split('\n').find((l) => l.startsWith('orderchat_slow_consumers_dropped_total'));
    return line === undefined ? 0 : Number(line.trim().split(/\s+/).pop());
  };
  await eventually(async () => (await dropped()) === 1, 'the stalled connection dropped (slow_consumers_dropped_total = 1)', 30_000);
  await eventually(() => received(reader, 'new-message').length === count, `reader got all ${count} messages`, 60_000);
  const seqs = received(reader, 'new-message').map((e) => e.message.seq);
  assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i + 1), 'reader got every message once, in seq order');

  // Once it reads again it learns it was disconnected (and would reconnect with sinceSeq).
  const gone = disconnected(stalled, 30_000);
  stalled.io.engine.transport.ws._socket.resume();
  await gone;
  assert.equal(await dropped(), 1, 'only the stalled connection was dropped');
  assert.ok(reader.connected && talker.connected);
  talker.close();
  reader.close();
});
