// A closed order's chat is read-only (ORDERCHAT_ARCHIVE_CLOSED_STATUSES, default
// completed, cancelled, canceled, closed): the official client's send-message gets an
// error ack with code order_closed, an upload answers 409, the room still hears the
// status change, and a new status makes the chat writable again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, emitAck, waitFor, history, customerAndDriver } from '../helpers.mjs';
import { upload, pdf } from '../files.mjs';

let srv;
before(async () => { srv = await spawnServer(); });
after(async () => { await srv?.stop(); });

const setStatus = async (orderId, status) => {
  const res = await srv.http('PATCH', `/api/orders/${encodeURIComponent(orderId)}`, token('platform', 'service'), { status });
  assert.equal(res.status, 200, res.text);
};

test('a cancelled order refuses send-message and uploads until the platform reopens it', async () => {
  const { orderId, ct, dt } = await customerAndDriver(srv);
  const driverSock = await srv.connect(dt);
  assert.equal((await emitAck(driverSock, 'join-order-room', orderId)).ok, true);

  const closing = waitFor(driverSock, 'new-message', (e) => e.orderId === orderId && e.message.messageType === 'system');
  await setStatus(orderId, 'cancelled');
  assert.match((await closing).message.message, /cancelled/, 'the room hears why it closed');

  const refused = await emitAck(driverSock, 'send-message', { orderId, message: 'on my way anyway', clientId: 'c-1' });
  assert.equal(refused.ok, false, JSON.stringify(refused));
  assert.equal(refused.code, 'order_closed');
  assert.match(refused.error, /read-only/);
  const up = await upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'receipt.pdf', bytes: pdf() } });
  assert.equal(up.status, 409, up.text);
  assert.equal(up.body.code, 'order_closed');
  assert.deepEqual((await history(srv, ct, orderId)).map((m) => m.messageType), ['system'], 'nothing stored');

  await setStatus(orderId, 'created');
  const sent = await emitAck(driverSock, 'send-message', { orderId, message: 'back on it', clientId: 'c-1' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  assert.equal(sent.message.message, 'back on it', 'the refused clientId was never stored');
  driverSock.close();
});
