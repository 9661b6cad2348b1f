// The Node.js peer of orderchat-bench: what the platform's users run today — plain,
// idiomatic socket.io 4.8 on node:http, no tuning — implementing orderchat's wire
// contract (SPEC §2–§5) in memory, so one load generator can drive both and compare.
//
//   ORDERCHAT_BIND=127.0.0.1:3001 ORDERCHAT_JWT_SECRET=… node server.mjs
//
// What it implements: HS256 JWT check (node:crypto) on HTTP and on the Socket.IO
// handshake (`auth.token`); `PUT`/`GET /api/orders/:id` (role `service`); the events
// `join-order-room` (ack with the messages after `sinceSeq`, at most 200, `lastSeq`,
// `hasMore`, `online`), `leave-order-room`, `send-message` (seq per order, dedupe by
// clientId, ack `{ ok, message, duplicate }`, `new-message` to the room, `unread-count`
// to the other participants, `notification` to their connections outside the room),
// `mark-read`, `typing-start` / `typing-stop`, and `presence`. Nothing is persisted: a
// restart forgets everything. Unread counts are counters per (order, user), as an
// in-memory service would keep them.

import { createServer } from 'node:http';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Server } from 'socket.io';

const [host, port] = splitBind(process.env.ORDERCHAT_BIND || '127.0.0.1:3000');
const SECRET = process.env.ORDERCHAT_JWT_SECRET;
if (!SECRET) {
  console.error('ORDERCHAT_JWT_SECRET is required');
  process.exit(2);
}
const STAFF = new Set((process.env.ORDERCHAT_STAFF_ROLES || 'admin,dispatcher,moderator').split(','));
const LEEWAY_SECS = 30;
const CATCH_UP_LIMIT = 200;
const MAX_MESSAGE_LENGTH = 4000;
const TYPING_TIMEOUT_MS = 5000;

function splitBind(bind) {
  const i = bind.lastIndexOf(':');
  return [bind.slice(0, i), Number(bind.slice(i + 1))];
}

// ---- JWT (HS256 only) ----------------------------------------------------------------

function verifyToken(token) {
  if (typeof token !== 'string') throw new Error('no token');
  if (token.startsWith('Bearer ')) token = token.slice(7);
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('malformed token');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  if (header.alg !== 'HS256') throw new Error('wrong algorithm');
  const expected = createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number') throw new Error('token has no exp');
  if (claims.exp + LEEWAY_SECS < now) throw new Error('token expired');
  if (typeof claims.nbf === 'number' && claims.nbf - LEEWAY_SECS > now) throw new Error('token not yet valid');
  const id = claims.sub ?? claims.id ?? claims.userId;
  if (id === undefined || id === null || typeof claims.role !== 'string') throw new Error('token lacks sub or role');
  return { userId: String(id), role: claims.role, name: claims.name ?? null };
}

// ---- state ---------------------------------------------------------------------------

/** orderId → { id, number, status, participants, messages, byClientId, unread, readSeq, createdAt, updatedAt } */
const orders = new Map();
/** userId → Set of orderIds the user takes part in */
const ordersOfUser = new Map();
/** userId → number of open connections */
const connections = new Map();

const orderRoom = (orderId) => `order:${orderId}`;
const userRoom = (userId) => `user:${userId}`;
const now = () => new Date().toISOString();

function canSee(identity, order) {
  if (!order) return false;
  if (STAFF.has(identity.role) || identity.role === 'service') return true;
  return order.participants.some((p) => p.userId === identity.userId);
}

function orderView(order) {
  const { id, number, status, participants, createdAt, updatedAt } = order;
  return { id, number, status, participants, lastSeq: order.messages.length, createdAt, updatedAt };
}

function putOrder(orderId, body) {
  if (!body || !Array.isArray(body.participants)) return { status: 400, code: 'invalid_field', message: 'participants: missing field' };
  const participants = body.participants.map((p) => ({ userId: String(p.userId), role: String(p.role), name: p.name ?? null }));
  let order = orders.get(orderId);
  const created = !order;
  if (!order) {
    order = { id: orderId, messages: [], byClientId: new Map(), unread: new Map(), readSeq: new Map(), createdAt: now() };
    orders.set(orderId, order);
  }
  const before = new Set(order.participants?.map((p) => p.userId) ?? []);
  order.number = body.number ?? order.number ?? null;
  order.status = body.status ?? order.status ?? 'created';
  order.participants = participants;
  order.updatedAt = now();
  const after = new Set(participants.map((p) => p.userId));
  for (const userId of after) {
    if (!ordersOfUser.has(userId)) ordersOfUser.set(userId, new Set());
    ordersOfUser.get(userId).add(orderId);
    if (!order.unread.has(userId)) order.unread.set(userId, 0);
  }
  for (const userId of before) {
    if (after.has(userId)) continue;
    ordersOfUser.get(userId)?.delete(orderId);
    io.in(userRoom(userId)).socketsLeave(orderRoom(orderId));
    io.to(orderRoom(orderId)).emit('user-left-order', { userId, orderId, timestamp: now() });
  }
  return { status: created ? 201 : 200, order };
}

// ---- HTTP ----------------------------------------------------------------------------

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res, status, code, message) {
  send(res, status, { success: false, code, message });
}

const httpServer = createServer((req, res) => {
  const url = new URL(req.url, 'http://peer');
  if (url.pathname === '/healthz' || url.pathname === '/readyz') return send(res, 200, { success: true, data: { status: 'ok' } });
  const match = /^\/api\/orders\/([^/]+)$/.exec(url.pathname);
  if (!match) return fail(res, 404, 'not_found', 'unknown path');
  let identity;
  try {
    identity = verifyToken(req.headers.authorization?.replace(/^Bearer /, ''));
  } catch (err) {
    return fail(res, 401, 'unauthenticated', err.message);
  }
  const orderId = decodeURIComponent(match[1]);
  if (req.method === 'GET') {
    const order = orders.get(orderId);
    if (!canSee(identity, order)) return fail(res, 404, 'order_not_found', 'no such order');
    return send(res, 200, { success: true, data: orderView(order) });
  }
  if (req.method !== 'PUT') return fail(res, 405, 'method_not_allowed', 'use GET or PUT');
  if (identity.role !== 'service') return fail(res, 403, 'forbidden', 'only the platform service manages orders');
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { raw += chunk; });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return fail(res, 400, 'invalid_json', 'body is not JSON');
    }
    const result = putOrder(orderId, body);
    if (result.code) return fail(res, result.status, result.code, result.message);
    send(res, result.status, { success: true, data: orderView(result.order) });
  });
});

// ---- Socket.IO -----------------------------------------------------------------------

const io = new Server(httpServer, { cors: { origin: true } });

io.use((socket, next) => {
  try {
    socket.data.identity = verifyToken(socket.handshake.auth?.token ?? socket.handshake.headers.authorization);
    next();
  } catch (err) {
    next(new Error(`Authentication error: ${err.message}`));
  }
});

/** `orderId` or `{ orderId, … }` → [orderId, fields] */
function orderRef(data) {
  if (typeof data === 'string' || typeof data === 'number') return [String(data), {}];
  if (data && (typeof data.orderId === 'string' || typeof data.orderId === 'number')) return [String(data.orderId), data];
  return [null, {}];
}

const refuse = (code, error) => ({ ok: false, error, code });

function announcePresence(identity, online) {
  const rooms = [...(ordersOfUser.get(identity.userId) ?? [])].map(orderRoom);
  if (rooms.length) io.to(rooms).emit('presence', { userId: identity.userId, online, timestamp: now() });
}

io.on('connection', (socket) => {
  const identity = socket.data.identity;
  const typing = new Map(); // orderId → timer
  socket.join(userRoom(identity.userId));
  const count = (connections.get(identity.userId) ?? 0) + 1;
  connections.set(identity.userId, count);
  if (count === 1) announcePresence(identity, true);

  const on = (event, handler) => {
    socket.on(event, (data, ack) => {
      let result;
      try {
        result = handler(data);
      } catch (err) {
        result = refuse('internal_error', err.message);
      }
      if (typeof ack === 'function') ack(result.ok === false ? result : { ok: true, ...result });
    });
  };

  const visible = (orderId) => {
    const order = orders.get(orderId);
    return canSee(identity, order) ? order : null;
  };

  on('join-order-room', (data) => {
    const [orderId, fields] = orderRef(data);
    if (!orderId) return refuse('invalid_field', 'orderId: missing field');
    const order = visible(orderId);
    if (!order) return refuse('order_not_found', 'no such order');
    const room = orderRoom(orderId);
    if (!socket.rooms.has(room)) {
      socket.join(room);
      socket.to(room).emit('user-joined-order', { userId: identity.userId, orderId, timestamp: now() });
    }
    let messages = [];
    let hasMore = false;
    if (fields.sinceSeq !== undefined) {
      const since = Number(fields.sinceSeq);
      if (!Number.isInteger(since) || since < 0) return refuse('invalid_field', 'sinceSeq: must be a non-negative integer');
      const after = order.messages.slice(since); // seq n is at index n - 1
      messages = after.slice(0, CATCH_UP_LIMIT);
      hasMore = after.length > CATCH_UP_LIMIT;
    }
    const online = order.participants.filter((p) => connections.get(p.userId) > 0).map((p) => p.userId);
    return { orderId, lastSeq: order.messages.length, messages, hasMore, online };
  });

  on('leave-order-room', (data) => {
    const [orderId] = orderRef(data);
    if (!orderId) return refuse('invalid_field', 'orderId: missing field');
    if (!visible(orderId)) return refuse('order_not_found', 'no such order');
    const room = orderRoom(orderId);
    if (socket.rooms.has(room)) {
      stopTyping(orderId);
      socket.leave(room);
      socket.to(room).emit('user-left-order', { userId: identity.userId, orderId, timestamp: now() });
    }
    return { orderId };
  });

  on('send-message', (data) => {
    const [orderId] = orderRef(data);
    if (!orderId) return refuse('invalid_field', 'orderId: missing field');
    const order = visible(orderId);
    if (!order) return refuse('order_not_found', 'no such order');
    if (typeof data.message !== 'string') return refuse('invalid_field', 'message: missing field');
    const text = data.message.replace(/\r\n/g, '\n');
    if (!text.trim()) return refuse('message_empty', 'message is empty');
    if ([...text].length > MAX_MESSAGE_LENGTH) return refuse('message_too_long', `message is longer than ${MAX_MESSAGE_LENGTH} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return refuse('message_invalid_characters', 'message holds control characters');
    const clientId = data.clientId === undefined || data.clientId === null ? null : String(data.clientId);
    const dedupeKey = clientId && `${identity.userId}\u0000${clientId}`;
    if (dedupeKey && order.byClientId.has(dedupeKey)) return { message: order.byClientId.get(dedupeKey), duplicate: true };

    const staff = STAFF.has(identity.role);
    const participant = order.participants.find((p) => p.userId === identity.userId);
    const at = now();
    const id = randomUUID();
    const message = {
      id,
      _id: id,
      orderId,
      seq: order.messages.length + 1,
      user: { id: identity.userId, name: identity.name ?? participant?.name ?? null, role: identity.role },
      message: text,
      messageType: 'text',
      senderType: staff ? 'admin' : 'user',
      attachments: [],
      replyTo: data.replyTo ?? null,
      clientId,
      createdAt: at,
      updatedAt: at,
      editedAt: null,
      deleted: false,
    };
    order.messages.push(message);
    if (dedupeKey) order.byClientId.set(dedupeKey, message);

    const room = orderRoom(orderId);
    io.to(room).emit('new-message', { orderId, message, timestamp: at });
    for (const p of order.participants) {
      if (p.userId === identity.userId) continue;
      const unreadCount = (order.unread.get(p.userId) ?? 0) + 1;
      order.unread.set(p.userId, unreadCount);
      if (!(connections.get(p.userId) > 0)) continue;
      io.to(userRoom(p.userId)).emit('unread-count', { orderId, unreadCount });
      io.to(userRoom(p.userId)).except(room).emit('notification', {
        type: 'new-message',
        orderId,
        title: `New message from ${message.user.name ?? identity.userId}${order.number ? ` (order ${order.number})` : ''}`,
        message: text.slice(0, 140),
        timestamp: at,
        messageId: id,
        seq: message.seq,
      });
    }
    return { message, duplicate: false };
  });

  on('mark-read', (data) => {
    const [orderId, fields] = orderRef(data);
    if (!orderId) return refuse('invalid_field', 'orderId: missing field');
    const order = visible(orderId);
    if (!order) return refuse('order_not_found', 'no such order');
    const last = order.messages.length;
    const current = order.readSeq.get(identity.userId) ?? 0;
    const wanted = fields.seq === undefined ? last : Number(fields.seq);
    if (!Number.isInteger(wanted) || wanted < 0) return refuse('invalid_field', 'seq: must be a non-negative integer');
    const seq = Math.max(current, Math.min(wanted, last));
    order.readSeq.set(identity.userId, seq);
    let unreadCount = 0;
    for (let i = seq; i < last; i += 1) {
      const m = order.messages[i];
      if (!m.deleted && m.user?.id !== identity.userId) unreadCount += 1;
    }
    order.unread.set(identity.userId, unreadCount);
    socket.to(orderRoom(orderId)).emit('message-read', { userId: identity.userId, orderId, seq, timestamp: now() });
    io.to(userRoom(identity.userId)).emit('unread-count', { orderId, unreadCount });
    return { orderId, seq, unreadCount };
  });

  function relayTyping(orderId, isTyping) {
    socket.to(orderRoom(orderId)).emit('user-typing', { userId: identity.userId, orderId, isTyping });
  }

  function stopTyping(orderId) {
    const timer = typing.get(orderId);
    if (!timer) return false;
    clearTimeout(timer);
    typing.delete(orderId);
    relayTyping(orderId, false);
    return true;
  }

  const typingOrder = (data) => {
    const [orderId] = orderRef(data);
    if (!orderId) return [null, refuse('invalid_field', 'orderId: missing field')];
    if (!socket.rooms.has(orderRoom(orderId))) {
      if (!visible(orderId)) return [null, refuse('order_not_found', 'no such order')];
      return [null, refuse('invalid_field', 'orderId: join the order room before typing')];
    }
    return [orderId, null];
  };

  on('typing-start', (data) => {
    const [orderId, refusal] = typingOrder(data);
    if (refusal) return refusal;
    clearTimeout(typing.get(orderId));
    typing.set(orderId, setTimeout(() => stopTyping(orderId), TYPING_TIMEOUT_MS));
    relayTyping(orderId, true);
    return {};
  });

  on('typing-stop', (data) => {
    const [orderId, refusal] = typingOrder(data);
    if (refusal) return refusal;
    stopTyping(orderId);
    return {};
  });

  socket.on('disconnect', () => {
    for (const orderId of [...typing.keys()]) stopTyping(orderId);
    const left = (connections.get(identity.userId) ?? 1) - 1;
    if (left > 0) {
      connections.set(identity.userId, left);
    } else {
      connections.delete(identity.userId);
      announcePresence(identity, false);
    }
  });
});

httpServer.listen(port, host, () => {
  const addr = httpServer.address();
  console.log(`node-socketio peer listening on ${addr.address}:${addr.port} (pid ${process.pid})`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    io.close();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
