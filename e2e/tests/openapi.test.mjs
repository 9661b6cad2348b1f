// The OpenAPI document (`GET /api/openapi.json`) and the contract check every other
// test relies on (openapi.mjs, called by `srv.http`): the document describes every
// route the server serves, and the check really rejects what the document does not
// describe.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id } from '../helpers.mjs';
import { Contract, loadContract } from '../openapi.mjs';

let srv;
let contract;
before(async () => {
  srv = await spawnServer();
  contract = await loadContract(srv.url);
});
after(() => srv?.stop());

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

test('the document is served without a token, as OpenAPI 3.1 with a bearer scheme and the Socket.IO events', async () => {
  const res = await srv.http('GET', '/api/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const doc = res.body;
  assert.match(doc.openapi, /^3\.1\./);
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
  assert.deepEqual(doc.security, [{ bearer: [] }]);
  for (const open of ['/healthz', '/readyz', '/metrics', '/api/openapi.json']) {
    assert.deepEqual(doc.paths[open].get.security, [{}], `${open} needs no token`);
  }
  assert.ok(doc['x-socketio-events'].clientToServer['send-message']);
  assert.ok(doc['x-socketio-events'].serverToClient['new-message']);
  // SPEC §4's routes are all there.
  for (const [method, path] of [
    ['post', '/api/chat/messages'],
    ['get', '/api/chat/orders/{order_id}/messages'],
    ['get', '/api/chat/orders'],
    ['patch', '/api/chat/orders/{order_id}/read'],
    ['get', '/api/chat/orders/{order_id}/unread-count'],
    ['delete', '/api/chat/messages/{message_id}'],
    ['patch', '/api/chat/messages/{message_id}'],
    ['get', '/api/chat/orders/{order_id}/messages/search'],
    ['get', '/api/chat/search'],
    ['get', '/api/chat/orders/{order_id}/participants'],
    ['get', '/api/chat/orders/{order_id}/export'],
    ['get', '/api/chat/orders/{order_id}/stats'],
    ['put', '/api/orders/{order_id}'],
    ['patch', '/api/orders/{order_id}'],
    ['get', '/api/orders/{order_id}'],
  ]) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
  }
});

test('every documented operation is served (none answers the fallback 404 or a 405)', async () => {
  const doc = (await srv.http('GET', '/api/openapi.json')).body;
  for (const [template, item] of Object.entries(doc.paths)) {
    const path = template.replace(/\{[^}]+\}/g, 'x');
    for (const method of METHODS.filter((m) => item[m])) {
      // Without a token: /api routes answer 401 before anything else; `srv.http`
      // checks each answer against the document as usual.
      const res = await srv.http(method.toUpperCase(), path, undefined, method === 'get' || method === 'delete' ? undefined : {});
      const open = template === '/api/openapi.json' || !template.startsWith('/api/');
      assert.equal(res.status, open ? 200 : 401, `${method.toUpperCase()} ${path}: ${res.text.slice(0, 200)}`);
    }
  }
});

test('an unknown path answers 404 and a documented path with another method 405, as the document says', async () => {
  const unknown = await srv.http('GET', '/api/chat/nope', token('u1'));
  assert.equal(unknown.status, 404);
  const wrongMethod = await srv.http('DELETE', '/api/chat/orders', token('u1'));
  assert.equal(wrongMethod.status, 405);
  assert.match(wrongMethod.headers.get('allow'), /GET/);
});

// A real answer to tamper with: a message with a reply preview, so nested schemas count.
async function realMessage() {
  const orderId = id('oa');
  await srv.order(orderId, { alice: 'customer' });
  const alice = token('alice');
  const first = await srv.send(alice, orderId, 'hello');
  const res = await srv.http('POST', '/api/chat/messages', alice, { orderId, message: 'reply', replyTo: first.id, clientId: id('c') });
  assert.equal(res.status, 201);
  return { request: { method: 'POST', path: '/api/chat/messages', headers: {} }, response: res };
}

const tampered = (response, body) => ({ ...response, body: structuredClone(body) });

test('the check rejects a body the document does not describe', async () => {
  const { request, response } = await realMessage();
  assert.doesNotThrow(() => contract.check(request, response));
  const body = response.body;

  const noLegacyId = structuredClone(body);
  delete noLegacyId.data._id;
  assert.throws(() => contract.check(request, tampered(response, noLegacyId)), /_id/);

  const extra = structuredClone(body);
  extra.data.undocumented = 1;
  assert.throws(() => contract.check(request, tampered(response, extra)), /additional properties/);

  const wrongType = structuredClone(body);
  wrongType.data.seq = 'seven';
  assert.throws(() => contract.check(request, tampered(response, wrongType)), /\/data\/seq/);

  const badNested = structuredClone(body);
  badNested.data.replyPreview.senderType = 'robot';
  assert.throws(() => contract.check(request, tampered(response, badNested)), /replyPreview/);

  const badDate = structuredClone(body);
  badDate.data.createdAt = 'yesterday';
  assert.throws(() => contract.check(request, tampered(response, badDate)), /createdAt/);

  const failure = { success: true, code: 'order_not_found', message: 'order not found' };
  assert.throws(() => contract.check(request, { ...response, status: 404, body: failure }), /success/);
});

test('the check rejects a status, route or method the document does not list', async () => {
  const { request, response } = await realMessage();
  assert.throws(() => contract.check(request, { ...response, status: 418 }), /status 418 is not documented/);
  assert.throws(
    () => contract.check({ ...request, path: '/api/chat/undocumented' }, response),
    /path not in the OpenAPI document/,
  );
  assert.throws(
    () => contract.check({ ...request, method: 'PUT' }, response),
    /PUT is not documented/,
  );
  const csv = new Headers({ 'content-type': 'text/csv' });
  assert.throws(() => contract.check(request, { ...response, headers: csv }), /Content-Type text\/csv is not documented/);
});

test('a document with a field taken out of the message schema fails the real answer (the drift guard)', async () => {
  const { request, response } = await realMessage();
  const doc = (await srv.http('GET', '/api/openapi.json')).body;
  // One place: the envelopes refer to `Message` instead of copying it.
  assert.deepEqual(doc.components.schemas.Success_Message.properties.data, { $ref: '#/components/schemas/Message' });
  const message = doc.components.schemas.Message;
  delete message.properties.clientId;
  message.required = message.required.filter((f) => f !== 'clientId');
  const stale = new Contract(doc);
  assert.throws(() => stale.check(request, response), /additional properties/);
});
