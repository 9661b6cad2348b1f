// Observability and the long-polling payload limit: /metrics reports connections,
// rooms, deliveries, stored messages and errors by kind; an Engine.IO long-polling
// POST over ORDERCHAT_MAX_SOCKET_PAYLOAD is refused and the server carries on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor, eventually } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer({ ORDERCHAT_MAX_SOCKET_PAYLOAD: '4096' }); });
after(async () => { await srv?.stop(); });

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name) && !l.startsWith('#'));
  return line === undefined ? 0 : Number(line.trim().split(/\s+/).pop());
}

async function scrape(server) {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

// Alerts use increase()/rate(), which see nothing of a series' first sample: the
// counters an operator alerts on exist at 0 from the start.
test('/metrics lists the alerting counters at 0 on a fresh server', async () => {
  const own = await spawnServer();
  try {
    const text = await scrape(own);
    for (const series of [
      'orderchat_messages_stored_total',
      'orderchat_slow_consumers_dropped_total',
      'orderchat_sessions_expired_total',
      'orderchat_rate_limited_total{kind="message"}',
      'orderchat_rate_limited_total{kind="typing"}',
      'orderchat_http_timeouts_total{kind="headers"}',
      'orderchat_http_timeouts_total{kind="body"}',
      'orderchat_notifications_stored_total{kind="new-message"}',
      'orderchat_notifications_stored_total{kind="order-status"}',
      'orderchat_notifications_stored_total{kind="mention"}',
      'orderchat_notifications_coalesced_total',
      'orderchat_notifications_read_total',
      'orderchat_notifications_expired_total',
      'orderchat_archive_moved_messages_total',
      'orderchat_archive_runs_total{outcome="ok"}',
      'orderchat_archive_runs_total{outcome="failed"}',
    ]) {
      assert.ok(text.split('\n').includes(`${series} 0`), `${series} 0 is not on /metrics:\n${text}`);
    }
    // Several-node counters only with Redis (cluster.test.mjs checks them there).
    assert.doesNotMatch(text, /orderchat_cluster_errors_total/);
  } finally {
    await own.stop();
  }
});

// A server of its own, so that every count below is exactly what this test caused.
test('/metrics counts connections, rooms, deliveries, stored messages and errors exactly', async () => {
  const own = await spawnServer();
  try {
    const orderId = id('order');
    const [ana, dan] = [id('ana'), id('dan')];
    await own.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
    const before = await scrape(own);
    const a = await own.connect(token(ana));
    const d = await own.connect(token(dan, 'driver'));
    assert.equal((await emitAck(a, 'join-order-room', orderId)).ok, true);
    assert.equal((await emitAck(d, 'join-order-room', orderId)).ok, true);
    assert.equal((await emitAck(a, 'send-message', { orderId, message: 'count me' })).ok, true);
    await waitFor(d, 'new-message');
    assert.equal((await emitAck(a, 'join-order-room', id('missing'))).ok, false);
    assert.equal((await emitAck(d, 'join-order-room', id('missing'))).ok, false);

    const after = await scrape(own);
    const delta = (name) => metric(after, name) - metric(before, name);
    assert.equal(metric(after, 'orderchat_connections'), 2, 'connections gauge');
    assert.equal(metric(after, 'orderchat_rooms'), 1, 'rooms gauge');
    assert.equal(metric(after, 'orderchat_room_members'), 2, 'room occupancy gauge');
    assert.equal(delta('orderchat_messages_stored_total'), 1, 'messages stored');
    // The room of two hears the message: both connections, the sender's included.
    assert.equal(delta('orderchat_deliveries_total{event="new-message"}'), 2, 'new-message deliveries');
    assert.equal(delta('orderchat_errors_total{code="order_not_found",transport="socket"}'), 2, 'refused joins');
    a.close();
    d.close();
  } finally {
    await own.stop();
  }
});

test('a long-polling payload over the limit is refused and the server carries on', async () => {
  const open = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(open.status, 200);
  const sid = JSON.parse((await open.text()).slice(1)).sid;
  const big = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body: '4' + 'x'.repeat(10_000),
  });
  assert.ok(big.status >= 400, `expected a refusal, got ${big.status}`);
  const health = await fetch(`${srv.url}/healthz`);
  assert.equal(health.status, 200);
});

test('no token reaches the log, even at RUST_LOG=trace', async () => {
  const own = await spawnServer({ RUST_LOG: 'trace' });
  try {
    const orderId = id('order');
    const ana = id('ana');
    await own.order(orderId, { [ana]: 'customer' });
    const viaAuth = token(ana, 'customer', { jti: 'auth' });
    const viaHeader = token(ana, 'customer', { jti: 'header' });
    const viaQuery = token(ana, 'customer', { jti: 'query' });
    const viaRefresh = token(ana, 'customer', { jti: 'refresh' });
    const viaHttp = token(ana, 'customer', { jti: 'http' });

    const a = await own.connect(viaAuth);
    assert.equal((await emitAck(a, 'join-order-room', orderId)).ok, true);
    assert.equal((await emitAck(a, 'refresh-token', { token: viaRefresh })).ok, true);
    const b = await own.connect(undefined, { extraHeaders: { authorization: `Bearer ${viaHeader}` } });
    assert.equal((await emitAck(b, 'join-order-room', orderId)).ok, true);
    assert.equal((await own.connectError(undefined, { query: { token: viaQuery } })).message.startsWith('Authentication error'), true);
    assert.equal((await own.http('GET', `/api/chat/orders/${orderId}/messages?token=${viaQuery}`, viaHttp)).status, 200);
    a.close();
    b.close();
    await eventually(() => own.logs().includes('socket disconnected'), 'the server logged the disconnects');

    const log = own.logs();
    assert.ok(log.includes('[redacted]'), 'the raw packets were logged (redacted), so this test can see a leak');
    for (const [name, jwt] of Object.entries({ viaAuth, viaHeader, viaQuery, viaRefresh, viaHttp })) {
      const signature = jwt.split('.')[2];
      assert.ok(!log.includes(signature), `the ${name} token appears in the log`);
      assert.ok(!log.includes(jwt.split('.')[1]), `the ${name} token's claims appear in the log`);
    }
  } finally {
    await own.stop();
  }
});

test('silent and slow HTTP connections are closed, logged and counted', async () => {
  const own = await spawnServer({ ORDERCHAT_HTTP_HEADER_TIMEOUT_SECS: '1' });
  try {
    const { connect } = await import('node:net');
    const [host, port] = own.url.replace('http://', '').split(':');
    /** Opens a raw connection, sends `bytes` (if any) and resolves when the server closes it. */
    const closedAfter = (bytes) => new Promise((resolve, reject) => {
      const socket = connect(Number(port), host, () => { if (bytes) socket.write(bytes); });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error('still open after 15 s')); }, 15_000);
      socket.on('close', () => { clearTimeout(timer); resolve(true); });
      socket.on('error', () => {});
      socket.resume(); // read (and drop) whatever the server answers
    });
    // Scrape on a connection of its own that closes after the answer (fetch would keep
    // it alive, and the server would then close it for idleness and count that too).
    const { get } = await import('node:http');
    const scrapeClosing = () => new Promise((resolve, reject) => {
      get(`${own.url}/metrics`, { agent: false, headers: { connection: 'close' } }, (res) => {
        let text = '';
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    const count = async () => metric(await scrapeClosing(), 'orderchat_http_timeouts_total{kind="headers"}');
    const before = await count();
    const cases = [
      [null, 'a connection that sends nothing'],
      ['GET /healthz HTTP/1.1\r\nHost: x', 'headers that never end'],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 'a kept-alive connection that goes idle after a request'],
    ];
    for (const [bytes, what] of cases) {
      assert.equal(await closedAfter(bytes), true, what);
    }
    await eventually(async () => (await count()) === before + cases.length, 'each closed connection is counted once');
    const lines = own.logs().split('\n').filter((l) => /no complete request headers within 1 s/.test(l));
    assert.equal(lines.length, cases.length, lines.join('\n'));
  } finally {
    await own.stop();
  }
});
