// Concurrent load on both transports for the crash and shutdown tests. Senders post
// messages (HTTP `POST /api/chat/messages` and Socket.IO `send-message` with an ack),
// each with a unique `clientId`, and now and then move their read pointer (HTTP
// `PATCH …/read` and socket `mark-read`). Every operation's outcome is recorded in a
// ledger, so a test can compare what the clients were told with what the database holds
// after a restart:
//
//   ok       HTTP 201 / 200, or an ack `{ ok: true }`       (the server said: stored)
//   refused  a clean refusal: connection refused, HTTP 503 `unavailable`, or an ack
//            `{ ok: false, code: 'unavailable' }`            (the server said: not stored)
//   error    anything else: connection reset, socket closed before the ack, another
//            status or error code                             (the client cannot know)
//
// A sender stops at its first outcome other than ok (the server is going away), or when
// the test calls `stop()`.

import { emitAck, token } from './helpers.mjs';

/**
 * A ledger shared by every round of a test: `sends` and `reads` accumulate, and
 * `clientIds` is unique across the whole test.
 */
export function newLedger(tag) {
  let n = 0;
  return {
    sends: [], // { clientId, orderId, user, transport, outcome, detail?, id?, seq?, round }
    reads: [], // { orderId, user, transport, outcome, detail?, seq?, round }
    nextClientId: () => `${tag}-${(n += 1)}`,
  };
}

/**
 * Starts `httpSenders` + `socketSenders` concurrent sender loops against `srv`. `users`
 * are participants of every order in `orders`; sender i acts as `users[i % users.length]`.
 * Returns `{ okCount(), inFlight(), stop() }`; `stop()` ends the loops and resolves when
 * every outstanding operation has its outcome.
 */
export async function startLoad(srv, ledger, { orders, users, round, httpSenders = 4, socketSenders = 4, readRatio = 0.15, ackTimeoutMs = 15_000 }) {
  let stopping = false;
  let inFlight = 0;
  let okCount = 0;
  const sockets = new Map();
  for (const user of users.slice(0, Math.min(users.length, socketSenders))) {
    sockets.set(user, await srv.connect(token(user, roleOf(user))));
  }
  const socketUsers = [...sockets.keys()];

  const latestOkSeq = (orderId) => {
    let best = 0;
    for (const s of ledger.sends) if (s.orderId === orderId && s.outcome === 'ok' && s.seq > best) best = s.seq;
    return best;
  };

  async function operate(record, list, run) {
    list.push(record);
    inFlight += 1;
    try {
      Object.assign(record, await run());
    } catch (err) {
      Object.assign(record, { outcome: 'error', detail: `threw: ${err.message}` });
    } finally {
      inFlight -= 1;
    }
    if (record.outcome === 'ok') okCount += 1;
    return record.outcome === 'ok';
  }

  async function loop(transport, user) {
    const tok = token(user, roleOf(user));
    const sock = sockets.get(user);
    while (!stopping) {
      if (transport === 'socket' && !sock.connected) return;
      const orderId = orders[Math.floor(Math.random() * orders.length)];
      let more;
      if (Math.random() < readRatio) {
        // Half the time to the latest message, half to a seq some sender was told is stored.
        const seq = Math.random() < 0.5 ? undefined : latestOkSeq(orderId) || undefined;
        const record = { orderId, user, transport, round, requested: seq ?? 'latest' };
        more = await operate(record, ledger.reads, () => (transport === 'http' ? httpRead(srv, tok, orderId, seq) : socketRead(sock, orderId, seq, ackTimeoutMs)));
      } else {
        const clientId = ledger.nextClientId();
        const body = { orderId, message: `load ${clientId} from ${user} over ${transport}`, clientId };
        const record = { clientId, orderId, user, transport, round };
        more = await operate(record, ledger.sends, () => (transport === 'http' ? httpSend(srv, tok, body) : socketSend(sock, body, ackTimeoutMs)));
      }
      if (!more) return;
    }
  }

  const loops = [
    ...Array.from({ length: httpSenders }, (_, i) => loop('http', users[i % users.length])),
    ...Array.from({ length: socketSenders }, (_, i) => loop('socket', socketUsers[i % socketUsers.length])),
  ];

  return {
    okCount: () => okCount,
    inFlight: () => inFlight,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      for (const s of sockets.values()) s.close();
    },
  };
}

/** Role for a load user: names start with their role ("driver-1", "customer-2"). */
export const roleOf = (user) => user.split('-')[0];

/** One send over HTTP, classified. Exported for retries after a restart. */
export async function httpSend(srv, tok, body) {
  return classifyHttp(() => srv.http('POST', '/api/chat/messages', tok, body), (res) =>
    (res.status === 201 || res.status === 200) && res.body?.data
      ? { outcome: 'ok', id: res.body.data.id, seq: res.body.data.seq, status: res.status, duplicate: res.status === 200 }
      : null);
}

/** One send over Socket.IO, classified. */
export async function socketSend(sock, body, timeoutMs) {
  return classifyAck(() => emitAck(sock, 'send-message', body, timeoutMs), (ack) =>
    ({ outcome: 'ok', id: ack.message.id, seq: ack.message.seq, duplicate: ack.duplicate }));
}

async function httpRead(srv, tok, orderId, seq) {
  return classifyHttp(() => srv.http('PATCH', `/api/chat/orders/${encodeURIComponent(orderId)}/read`, tok, seq === undefined ? {} : { seq }), (res) =>
    res.status === 200 && res.body?.data ? { outcome: 'ok', seq: res.body.data.seq } : null);
}

async function socketRead(sock, orderId, seq, timeoutMs) {
  return classifyAck(() => emitAck(sock, 'mark-read', seq === undefined ? { orderId } : { orderId, seq }, timeoutMs), (ack) =>
    ({ outcome: 'ok', seq: ack.seq }));
}

async function classifyHttp(request, success) {
  let res;
  try {
    res = await request();
  } catch (err) {
    const code = err.cause?.code ?? err.code;
    if (code === 'ECONNREFUSED') return { outcome: 'refused', detail: 'connection refused' };
    return { outcome: 'error', detail: `fetch failed: ${code ?? ''} ${err.cause?.message ?? err.message}`.trim() };
  }
  const ok = success(res);
  if (ok) return ok;
  if (res.status === 503 && res.body?.code === 'unavailable') return { outcome: 'refused', detail: 'HTTP 503 unavailable' };
  return { outcome: 'error', detail: `HTTP ${res.status} ${String(res.text).slice(0, 200)}` };
}

async function classifyAck(emit, success) {
  let ack;
  try {
    ack = await emit();
  } catch (err) {
    return { outcome: 'error', detail: `no ack: ${err.message}` };
  }
  if (ack?.ok === true) return success(ack);
  if (ack?.ok === false && ack.code === 'unavailable') return { outcome: 'refused', detail: 'ack unavailable' };
  return { outcome: 'error', detail: `ack ${JSON.stringify(ack).slice(0, 200)}` };
}
