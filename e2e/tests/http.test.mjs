// The HTTP API with plain fetch: health endpoints, orders (service PUT/PATCH/GET),
// send, history by page and by before/after cursors, the caller's chat list with
// last message and unread counts, read pointer and unread count (per user), delete
// (tombstone) and edit, per-order and global full-text search (including FTS syntax
// typed by users), participants, the envelope, and bad input (invalid JSON, missing
// orderId, empty/too long/control characters, wrong content type, bad query).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, token, id, history, eventually, customerAndDriver } from '../helpers.mjs';

/** Waits until the clock has moved past an RFC 3339 timestamp the server gave. */
const clockPast = (at) => eventually(() => Date.now() > Date.parse(at), `the clock passed ${at}`);

let srv;
before(async () => {
  srv = await spawnServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });
});
after(async () => { await srv?.stop(); });

const service = token('platform', 'service');

/** A fresh order of a customer and a driver on this file's server. */
const scene = () => customerAndDriver(srv);

const seqs = (res) => res.body.data.map((m) => m.seq);
/** Search results may be messages or { message: Message, … }: the text of a hit. */
const hitText = (h) => (typeof h.message === 'string' ? h.message : h.message?.message);
const hitOrder = (h) => h.orderId ?? h.message?.orderId;

test('health endpoints answer without a token', async () => {
  assert.equal((await srv.http('GET', '/healthz')).status, 200);
  assert.equal((await srv.http('GET', '/readyz')).status, 200);
  const metrics = await srv.http('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /^# (HELP|TYPE) /m, 'metrics are not Prometheus text');
});

test('an unknown path is a JSON 404 not_found', async () => {
  const res = await srv.http('GET', '/api/chat/nope', token('u', 'customer'));
  assert.equal(res.status, 404);
  assert.equal(res.body.success, false);
  assert.equal(res.body.code, 'not_found');
});

test('the service registers, replaces, reads and updates an order', async () => {
  const orderId = id('order');
  const body = { number: 'A-100', status: 'created', participants: [{ userId: 'ana', role: 'customer', name: 'Ana' }] };
  const created = await srv.http('PUT', `/api/orders/${orderId}`, service, body);
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.success, true);
  const o = created.body.data;
  assert.equal(o.id, orderId);
  assert.equal(o.number, 'A-100');
  assert.equal(o.status, 'created');
  assert.deepEqual(o.participants, [{ userId: 'ana', role: 'customer', name: 'Ana' }]);
  assert.equal(o.lastSeq, 0);
  assert.equal(typeof o.createdAt, 'string');
  assert.equal(typeof o.updatedAt, 'string');

  const replaced = await srv.http('PUT', `/api/orders/${orderId}`, service, {
    ...body, participants: [...body.participants, { userId: 'dan', role: 'driver', name: 'Dan' }],
  });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.body.data.participants.length, 2);

  const again = await srv.http('PUT', `/api/orders/${orderId}`, service, {
    ...body, participants: [...body.participants, { userId: 'dan', role: 'driver', name: 'Dan' }],
  });
  assert.equal(again.status, 200, 'PUT is idempotent');

  const read = await srv.http('GET', `/api/orders/${orderId}`, token('dan', 'driver'));
  assert.equal(read.status, 200, read.text);
  assert.equal(read.body.data.number, 'A-100');

  const patched = await srv.http('PATCH', `/api/orders/${orderId}`, service, { status: 'assigned', note: 'Dan takes it' });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.data.status, 'assigned');
  const msgs = await history(srv, service, orderId);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].messageType, 'system');
  assert.equal(msgs[0].senderType, 'system');
  assert.equal(msgs[0].user, null);
  assert.equal(msgs[0].message, 'Order status changed to assigned\nDan takes it');
  assert.equal((await srv.http('GET', `/api/orders/${orderId}`, service)).body.data.lastSeq, 1);
});

test('only the service manages orders', async () => {
  const { orderId, ct } = await scene();
  const body = { participants: [{ userId: 'x', role: 'customer' }] };
  const put = await srv.http('PUT', `/api/orders/${orderId}`, ct, body);
  assert.equal(put.status, 403, put.text);
  assert.equal(put.body.code, 'forbidden');
  const patch = await srv.http('PATCH', `/api/orders/${orderId}`, ct, { status: 'cancelled' });
  assert.equal(patch.status, 403, patch.text);
  const fresh = await srv.http('PUT', `/api/orders/${id('order')}`, token('adm', 'admin'), body);
  assert.equal(fresh.status, 403, `staff is not the service: ${fresh.text}`);
});

test('an order without participants is refused with 400', async () => {
  const res = await srv.http('PUT', `/api/orders/${id('order')}`, service, { number: 'X' });
  assert.equal(res.status, 400, res.text);
  assert.ok(['invalid_json', 'invalid_field'].includes(res.body.code), res.text);
  assert.match(res.body.message, /participants/);
});

test('POST /api/chat/messages stores a message and answers 201 with the envelope', async () => {
  const { orderId, customer, ct } = await scene();
  const res = await srv.http('POST', '/api/chat/messages', ct, { orderId, message: 'Hello', clientId: 'c-1' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.success, true);
  const m = res.body.data;
  assert.equal(m.seq, 1);
  assert.equal(m.orderId, orderId);
  assert.equal(m.user.id, customer);
  assert.equal(m.message, 'Hello');
  assert.equal(m.clientId, 'c-1');
  assert.equal(m.deleted, false);
  const dup = await srv.http('POST', '/api/chat/messages', ct, { orderId, message: 'Hello', clientId: 'c-1' });
  assert.equal(dup.status, 200, dup.text);
  assert.equal(dup.body.data.id, m.id);
});

test('history by page: page 1 is the newest, each page chronological, with page meta', async () => {
  const { orderId, ct } = await scene();
  for (let i = 1; i <= 7; i++) await srv.send(ct, orderId, `msg ${i}`);
  const p1 = await srv.http('GET', `/api/chat/orders/${orderId}/messages?page=1&limit=3`, ct);
  assert.equal(p1.status, 200, p1.text);
  assert.deepEqual(seqs(p1), [5, 6, 7]);
  assert.deepEqual(p1.body.meta, { totalItems: 7, totalPages: 3, currentPage: 1, itemsPerPage: 3 });
  const p2 = await srv.http('GET', `/api/chat/orders/${orderId}/messages?page=2&limit=3`, ct);
  assert.deepEqual(seqs(p2), [2, 3, 4]);
  const p3 = await srv.http('GET', `/api/chat/orders/${orderId}/messages?page=3&limit=3`, ct);
  assert.deepEqual(seqs(p3), [1]);
  const p4 = await srv.http('GET', `/api/chat/orders/${orderId}/messages?page=4&limit=3`, ct);
  assert.deepEqual(seqs(p4), []);
  const dflt = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, ct);
  assert.deepEqual(seqs(dflt), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(dflt.body.meta.itemsPerPage, 50);
});

test('history by cursor: before and after walk the seqs with hasMore and nextCursor', async () => {
  const { orderId, ct } = await scene();
  for (let i = 1; i <= 7; i++) await srv.send(ct, orderId, `msg ${i}`);
  const get = (q) => srv.http('GET', `/api/chat/orders/${orderId}/messages?${q}`, ct);

  const b1 = await get('before=6&limit=2');
  assert.deepEqual(seqs(b1), [4, 5]);
  assert.deepEqual(b1.body.meta, { hasMore: true, nextCursor: 4 });
  const b2 = await get('before=4&limit=5');
  assert.deepEqual(seqs(b2), [1, 2, 3]);
  assert.equal(b2.body.meta.hasMore, false);

  const a1 = await get('after=2&limit=3');
  assert.deepEqual(seqs(a1), [3, 4, 5]);
  assert.deepEqual(a1.body.meta, { hasMore: true, nextCursor: 5 });
  const a2 = await get('after=5&limit=10');
  assert.deepEqual(seqs(a2), [6, 7]);
  assert.equal(a2.body.meta.hasMore, false);
  const a3 = await get('after=7');
  assert.deepEqual(seqs(a3), []);
  assert.equal(a3.body.meta.hasMore, false);
});

test('history refuses bad query parameters with 400 invalid_query', async () => {
  const { orderId, ct } = await scene();
  for (const q of ['limit=abc', 'page=-1', 'before=xyz', 'after=1.5', 'limit=-5']) {
    const res = await srv.http('GET', `/api/chat/orders/${orderId}/messages?${q}`, ct);
    assert.equal(res.status, 400, `${q}: ${res.status} ${res.text}`);
    assert.equal(res.body.code, 'invalid_query', `${q}: ${res.text}`);
  }
});

test('the chat list shows the caller’s orders with last message and unread count, latest activity first', async () => {
  const me = id('me');
  const other = id('other');
  const mt = token(me, 'customer');
  const ot = token(other, 'driver');
  const older = id('order-older');
  const newer = id('order-newer');
  const notMine = id('order-not-mine');
  await srv.order(older, { [me]: 'customer', [other]: 'driver' });
  await srv.order(newer, { [me]: 'customer', [other]: 'driver' });
  await srv.order(notMine, { [other]: 'driver' });

  await srv.send(ot, older, 'old 1');
  await srv.send(ot, older, 'old 2');
  const reply = await srv.send(mt, older, 'my reply');
  await clockPast(reply.createdAt); // distinct activity times, whatever the clock's resolution
  await srv.send(ot, newer, 'new 1');
  await srv.send(ot, notMine, 'secret');

  const res = await srv.http('GET', '/api/chat/orders', mt);
  assert.equal(res.status, 200, res.text);
  const rows = res.body.data;
  assert.deepEqual(rows.map((r) => r.orderId), [newer, older]);
  assert.equal(rows[0].lastMessage.message, 'new 1');
  assert.equal(rows[0].unreadCount, 1);
  assert.equal(rows[1].lastMessage.message, 'my reply');
  assert.equal(rows[1].unreadCount, 2, 'own messages are not unread');
  assert.equal(rows[0].order.id, newer);
  assert.equal(typeof rows[0].lastActivityAt, 'string');
  assert.ok(res.body.meta, 'list has meta');

  // New activity in the older order moves it to the top.
  await clockPast(rows[0].lastActivityAt);
  await srv.send(ot, older, 'bump');
  const again = await srv.http('GET', '/api/chat/orders', mt);
  assert.deepEqual(again.body.data.map((r) => r.orderId), [older, newer]);
  assert.equal(again.body.data[0].unreadCount, 3);
});

test('the read pointer is per user, only moves forward and is clamped to the latest seq', async () => {
  const { orderId, ct, dt } = await scene();
  for (let i = 1; i <= 5; i++) await srv.send(dt, orderId, `m${i}`);
  const read = (body) => srv.http('PATCH', `/api/chat/orders/${orderId}/read`, ct, body);
  const unread = async (tok) => (await srv.http('GET', `/api/chat/orders/${orderId}/unread-count`, tok)).body.data;

  assert.deepEqual(await unread(ct), { orderId, unreadCount: 5 });

  const r1 = await read({ seq: 3 });
  assert.equal(r1.status, 200, r1.text);
  assert.deepEqual(r1.body.data, { orderId, seq: 3, unreadCount: 2 });
  assert.deepEqual(await unread(ct), { orderId, unreadCount: 2 });

  const back = await read({ seq: 1 });
  assert.equal(back.body.data.seq, 3, 'the pointer moved backwards');
  assert.equal(back.body.data.unreadCount, 2);

  const over = await read({ seq: 999 });
  assert.equal(over.body.data.seq, 5, 'the pointer was not clamped to the latest seq');
  assert.equal(over.body.data.unreadCount, 0);

  await srv.send(dt, orderId, 'm6');
  assert.equal((await unread(ct)).unreadCount, 1);
  const latest = await read({});
  assert.deepEqual(latest.body.data, { orderId, seq: 6, unreadCount: 0 });

  // The driver's state is its own: it wrote everything, so nothing is unread; its pointer did not move.
  assert.equal((await unread(dt)).unreadCount, 0);
  const parts = await srv.http('GET', `/api/chat/orders/${orderId}/participants`, dt);
  const driverRow = parts.body.data.find((p) => p.role === 'driver');
  const customerRow = parts.body.data.find((p) => p.role === 'customer');
  assert.equal(driverRow.readSeq, 0);
  assert.equal(customerRow.readSeq, 6);
  assert.equal(typeof customerRow.lastReadAt, 'string');

  const bad = await read({ seq: 'three' });
  assert.equal(bad.status, 400, bad.text);
});

test('a read without a body, or with an empty JSON body, marks everything read', async () => {
  const { orderId, ct, dt } = await scene();
  await srv.send(dt, orderId, 'x');
  await srv.send(dt, orderId, 'y');
  const res = await srv.http('PATCH', `/api/chat/orders/${orderId}/read`, ct);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.data, { orderId, seq: 2, unreadCount: 0 });
  await srv.send(dt, orderId, 'z');
  const empty = await srv.http('PATCH', `/api/chat/orders/${orderId}/read`, ct, {});
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual(empty.body.data, { orderId, seq: 3, unreadCount: 0 });
});

test('deleting leaves a tombstone in history, out of unread counts; author only, staff may moderate', async () => {
  const { orderId, ct, dt } = await scene();
  const a = await srv.send(ct, orderId, 'keep');
  const b = await srv.send(ct, orderId, 'remove me');
  const c = await srv.send(ct, orderId, 'staff removes me');

  const notAuthor = await srv.http('DELETE', `/api/chat/messages/${b.id}`, dt);
  assert.equal(notAuthor.status, 403, notAuthor.text);
  assert.equal(notAuthor.body.code, 'forbidden');

  const del = await srv.http('DELETE', `/api/chat/messages/${b.id}`, ct);
  assert.equal(del.status, 200, del.text);
  assert.equal(del.body.data.id, b.id);
  assert.equal(del.body.data.deleted, true);
  assert.equal(del.body.data.message, '');

  const mod = await srv.http('DELETE', `/api/chat/messages/${c.id}`, token(id('mod'), 'moderator'));
  assert.equal(mod.status, 200, mod.text);

  const msgs = await history(srv, dt, orderId);
  assert.deepEqual(msgs.map((m) => [m.seq, m.deleted, m.message]), [[a.seq, false, 'keep'], [b.seq, true, ''], [c.seq, true, '']]);
  const unread = await srv.http('GET', `/api/chat/orders/${orderId}/unread-count`, dt);
  assert.equal(unread.body.data.unreadCount, 1, 'deleted messages still counted as unread');

  const unknown = await srv.http('DELETE', `/api/chat/messages/${id('nope')}`, ct);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 'message_not_found');
});

test('editing: author only, validated, not on a deleted message', async () => {
  const { orderId, ct, dt } = await scene();
  const m = await srv.send(ct, orderId, 'draft');
  const edited = await srv.http('PATCH', `/api/chat/messages/${m.id}`, ct, { message: 'final' });
  assert.equal(edited.status, 200, edited.text);
  assert.equal(edited.body.data.message, 'final');
  assert.equal(typeof edited.body.data.editedAt, 'string');
  assert.equal(edited.body.data.seq, m.seq);
  assert.equal((await history(srv, ct, orderId))[0].message, 'final');

  const other = await srv.http('PATCH', `/api/chat/messages/${m.id}`, dt, { message: 'hijack' });
  assert.equal(other.status, 403, other.text);
  assert.equal(other.body.code, 'forbidden');

  const empty = await srv.http('PATCH', `/api/chat/messages/${m.id}`, ct, { message: '   ' });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.code, 'message_empty');

  await srv.http('DELETE', `/api/chat/messages/${m.id}`, ct);
  const gone = await srv.http('PATCH', `/api/chat/messages/${m.id}`, ct, { message: 'resurrect' });
  assert.equal(gone.status, 409, gone.text);
  assert.equal(gone.body.code, 'conflict');
});

test('per-order search matches words, prefixes the last word, ranks and stays inside the order', async () => {
  const { orderId, ct, dt } = await scene();
  const other = await scene();
  await srv.send(ct, orderId, 'The blue truck is at the gate');
  await srv.send(dt, orderId, 'I see a blue car parked over there by the fence, and no truck anywhere near it');
  await srv.send(ct, orderId, 'red bicycle');
  await srv.send(other.ct, other.orderId, 'blue truck in another order');

  const q = (text) => srv.http('GET', `/api/chat/orders/${orderId}/messages/search?q=${encodeURIComponent(text)}`, ct);
  const blue = await q('blue');
  assert.equal(blue.status, 200, blue.text);
  assert.equal(blue.body.data.length, 2);
  assert.ok(blue.body.data.every((h) => hitOrder(h) === orderId));
  assert.ok(blue.body.meta && 'totalItems' in blue.body.meta, 'search has page meta');

  const prefix = await q('bicy');
  assert.deepEqual(prefix.body.data.map(hitText), ['red bicycle']);

  const both = await q('blue truck');
  assert.equal(both.body.data.length, 2);
  assert.equal(hitText(both.body.data[0]), 'The blue truck is at the gate', 'best match first');

  const none = await q('submarine');
  assert.equal(none.status, 200);
  assert.deepEqual(none.body.data, []);
});

test('search treats FTS syntax as plain text and never fails with 500', async () => {
  const { orderId, ct } = await scene();
  await srv.send(ct, orderId, 'foo OR bar: "quoted" text with NEAR and * star');
  const nasty = ['"foo* OR', 'foo OR', 'NEAR(', 'a AND', '*', '"', '-foo', 'message:foo', '^foo', '(((', 'foo"bar', "'; DROP TABLE messages; --", 'NOT', '{a b}', 'foo\u0000'];
  for (const text of nasty) {
    for (const path of [`/api/chat/orders/${orderId}/messages/search`, '/api/chat/search']) {
      const res = await srv.http('GET', `${path}?q=${encodeURIComponent(text)}`, ct);
      assert.ok(res.status < 500, `${path} q=${JSON.stringify(text)} → ${res.status} ${res.text}`);
      assert.ok([200, 400].includes(res.status), `${path} q=${JSON.stringify(text)} → ${res.status}`);
      if (res.status === 400) assert.equal(res.body.code, 'invalid_query');
    }
  }
  const quoted = await srv.http('GET', `/api/chat/orders/${orderId}/messages/search?q=${encodeURIComponent('"foo* OR')}`, ct);
  assert.equal(quoted.status, 200, quoted.text);
  const asWords = await srv.http('GET', `/api/chat/orders/${orderId}/messages/search?q=${encodeURIComponent('foo OR')}`, ct);
  assert.equal(asWords.status, 200, asWords.text);
  assert.equal(asWords.body.data.length, 1, '"OR" typed by a user is a word, the message contains both');
  const after = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, ct);
  assert.equal(after.status, 200, 'the server is fine afterwards');
});

test('search without q is a 400 invalid_query', async () => {
  const { orderId, ct } = await scene();
  for (const path of [`/api/chat/orders/${orderId}/messages/search`, '/api/chat/search']) {
    const res = await srv.http('GET', path, ct);
    assert.equal(res.status, 400, `${path}: ${res.text}`);
    assert.equal(res.body.code, 'invalid_query');
  }
});

test('deleted text can no longer be found by search', async () => {
  const { orderId, ct } = await scene();
  const m = await srv.send(ct, orderId, 'my password is hunter2');
  await srv.http('DELETE', `/api/chat/messages/${m.id}`, ct);
  for (const path of [`/api/chat/orders/${orderId}/messages/search`, '/api/chat/search']) {
    const res = await srv.http('GET', `${path}?q=hunter2`, ct);
    assert.equal(res.status, 200, res.text);
    assert.ok(!res.body.data.some((h) => (hitText(h) || '').includes('hunter2')), `${path} still shows the deleted text`);
  }
});

test('edited text is found by its new words, not the old ones', async () => {
  const { orderId, ct } = await scene();
  const m = await srv.send(ct, orderId, 'meet at warehouse');
  await srv.http('PATCH', `/api/chat/messages/${m.id}`, ct, { message: 'meet at harbour' });
  const path = `/api/chat/orders/${orderId}/messages/search`;
  assert.equal((await srv.http('GET', `${path}?q=harbour`, ct)).body.data.length, 1);
  assert.equal((await srv.http('GET', `${path}?q=warehouse`, ct)).body.data.length, 0);
});

test('global search covers every order the caller may see and no other', async () => {
  const me = id('searcher');
  const mt = token(me, 'customer');
  const mine1 = id('order');
  const mine2 = id('order');
  const theirs = id('order');
  await srv.order(mine1, { [me]: 'customer' });
  await srv.order(mine2, { [me]: 'customer' });
  await srv.order(theirs, { someone: 'customer' });
  const word = `zebra${Date.now()}`;
  await srv.send(mt, mine1, `${word} one`);
  await srv.send(mt, mine2, `${word} two`);
  await srv.send(token('someone', 'customer'), theirs, `${word} secret`);

  const res = await srv.http('GET', `/api/chat/search?q=${word}`, mt);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.data.map(hitOrder).sort(), [mine1, mine2].sort());
  assert.ok(!res.body.data.some((h) => (hitText(h) || '').includes('secret')));

  const staff = await srv.http('GET', `/api/chat/search?q=${word}`, token(id('disp'), 'dispatcher'));
  assert.equal(staff.body.data.length, 3, 'staff see every order');
});

test('invalid JSON is a 400 invalid_json', async () => {
  const { orderId, ct } = await scene();
  for (const body of ['{"orderId":', 'not json', '[1,2', `{"orderId":"${orderId}","message":"x",}`]) {
    const res = await srv.http('POST', '/api/chat/messages', ct, body);
    assert.equal(res.status, 400, `${body}: ${res.text}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'invalid_json', res.text);
  }
});

test('a body of the wrong shape names the field', async () => {
  const { orderId, ct } = await scene();
  const cases = [
    [{ message: 'no order id' }, /orderId/],
    [{ orderId, message: 42 }, /message/],
    [{ orderId }, /message/],
    [[orderId, 'hi'], /./],
  ];
  const wrong = [];
  for (const [body, field] of cases) {
    const res = await srv.http('POST', '/api/chat/messages', ct, body);
    if (res.status !== 400 || !['invalid_json', 'invalid_field'].includes(res.body.code) || !field.test(res.body.message)) {
      wrong.push(`${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 160)}`);
    }
  }
  assert.deepEqual(wrong, [], 'bodies of the wrong shape were not refused with a 400 naming the field');
});

test('message text rules: not empty, at most 4000 characters, no control characters but newline and tab', async () => {
  const { orderId, ct } = await scene();
  const post = (message) => srv.http('POST', '/api/chat/messages', ct, { orderId, message });
  const refused = [
    ['', 'message_empty'],
    [' \n\t ', 'message_empty'],
    ['x'.repeat(4001), 'message_too_long'],
    ['é'.repeat(4001), 'message_too_long'],
    ['esc \u001b[31m red', 'message_invalid_characters'],
    ['del \u007f', 'message_invalid_characters'],
    ['cr \r only', 'message_invalid_characters'],
  ];
  const wrong = [];
  for (const [text, code] of refused) {
    const res = await post(text);
    if (res.status !== 400 || res.body.code !== code) {
      wrong.push(`${JSON.stringify(text.slice(0, 20))} (${text.length} chars): expected 400 ${code}, got ${res.status} ${res.body.code ?? ''}`);
    }
  }
  for (const text of ['x'.repeat(4000), 'é'.repeat(4000), 'tabs\tand\nnewlines', 'emoji 🚚 ok']) {
    const res = await post(text);
    if (res.status !== 201 || res.body.data.message !== text) {
      wrong.push(`${JSON.stringify(text.slice(0, 20))} (${text.length} chars): expected 201, got ${res.status} ${res.text.slice(0, 160)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('a JSON body without Content-Type application/json is a 415', async () => {
  const { orderId, ct } = await scene();
  const body = JSON.stringify({ orderId, message: 'hi' });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
    const res = await srv.http('POST', '/api/chat/messages', ct, body, { 'content-type': type });
    assert.equal(res.status, 415, `${type}: ${res.text}`);
    assert.equal(res.body.code, 'unsupported_media_type');
  }
  assert.equal((await history(srv, ct, orderId)).length, 0);
});
