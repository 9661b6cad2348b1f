// Observability and the long-polling payload limit: /metrics reports connections,
// rooms, deliveries, stored messages and errors by kind; an Engine.IO long-polling
// POST over ORDERCHAT_MAX_SOCKET_PAYLOAD is refused and the server carries on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, emitAck, waitFor } from '../helpers.mjs';

let srv;
before(async () => { srv = await spawnServer({ ORDERCHAT_MAX_SOCKET_PAYLOAD: '4096' }); });
after(async () => { await srv?.stop(); });

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name) && !l.startsWith('#'));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
}

test('/metrics counts connections, rooms, deliveries, stored messages and errors', async () => {
  const orderId = id('order');
  const [ana, dan] = [id('ana'), id('dan')];
  await srv.order(orderId, { [ana]: 'customer', [dan]: 'driver' });
  const a = await srv.connect(token(ana));
  const d = await srv.connect(token(dan, 'driver'));
  assert.equal((await emitAck(a, 'join-order-room', orderId)).ok, true);
  assert.equal((await emitAck(d, 'join-order-room', orderId)).ok, true);
  assert.equal((await emitAck(a, 'send-message', { orderId, message: 'count me' })).ok, true);
  await waitFor(d, 'new-message');
  assert.equal((await emitAck(a, 'join-order-room', id('missing'))).ok, false);

  const res = await fetch(`${srv.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(metric(text, 'orderchat_connections') >= 2, 'connections gauge');
  assert.ok(metric(text, 'orderchat_rooms') >= 1, 'rooms gauge');
  assert.ok(metric(text, 'orderchat_room_members') >= 2, 'room occupancy gauge');
  assert.ok(metric(text, 'orderchat_messages_stored_total') >= 1, 'messages stored');
  assert.match(text, /orderchat_deliveries_total\{event="new-message"\} [1-9]/);
  assert.match(text, /orderchat_errors_total\{code="order_not_found",transport="socket"\} [1-9]/);
  a.close();
  d.close();
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
