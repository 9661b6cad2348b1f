// The tests' real server: `useServer()` starts `orderchat serve` before the file's tests
// and stops it after (failing the file if the log shows a panic), and gives helpers to
// mint tokens, register orders, send over HTTP and wait for conditions.

import { createHmac } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { SECRET, startServer, type RunningServer } from '../../scripts/server.mjs';
import { OrderChatClient, type ClientOptions, type Message } from '../../src/index.js';

/** Sign an HS256 JWT with the tests' secret. */
export function signJwt(payload: Record<string, unknown>, secret = SECRET): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A token for `sub` with `role`, valid `ttlSeconds` (default an hour). */
export function token(sub: string, role = 'customer', ttlSeconds = 3600, extra: Record<string, unknown> = {}): string {
  return signJwt({ sub, role, name: `Name ${sub}`, exp: Math.floor(Date.now() / 1000) + ttlSeconds, ...extra });
}

let counter = 0;
/** A name unique within the run: `uid('order')` → "order-3-k2x9". */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wait until `fn` returns something truthy (polling); throws with `what` after `timeoutMs`. */
export async function eventually<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await sleep(50);
  }
}

export interface TestServer {
  readonly url: string;
  readonly raw: RunningServer;
  /** A fresh order of a customer and a driver, with a token for each. */
  customerAndDriver(): Promise<{ orderId: string; customer: string; driver: string; ct: string; dt: string }>;
  /** Register an order as the platform: `{ alice: 'customer', bob: 'driver' }`. */
  order(orderId: string, participants: Record<string, string>, status?: string): Promise<void>;
  /** Send over HTTP (the "other user"), returns the stored message. */
  send(tok: string, orderId: string, text: string): Promise<Message>;
  /** Every message of an order over HTTP, oldest first. */
  history(tok: string, orderId: string): Promise<Message[]>;
  /** A client on this server (closed after the file). */
  client(options: Partial<ClientOptions> & Pick<ClientOptions, 'token'>): OrderChatClient;
}

/** Start a server for this test file (`env` adds ORDERCHAT_* settings). */
export function useServer(env: Record<string, string> = {}): TestServer {
  let raw: RunningServer | null = null;
  const clients: OrderChatClient[] = [];
  beforeAll(async () => {
    raw = await startServer(env);
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await raw?.stop();
  }, 60_000);

  const server = (): RunningServer => {
    if (!raw) throw new Error('server not started');
    return raw;
  };
  const http = async (method: string, path: string, tok: string, body?: unknown) => {
    const res = await fetch(server().url + path, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as { data: unknown; meta?: { hasMore: boolean; nextCursor: number } };
  };
  const api: TestServer = {
    get url() { return server().url; },
    get raw() { return server(); },
    async order(orderId, participants, status = 'created') {
      await http('PUT', `/api/orders/${encodeURIComponent(orderId)}`, token('platform', 'service'), {
        number: `N-${orderId}`,
        status,
        participants: Object.entries(participants).map(([userId, role]) => ({ userId, role, name: `Name ${userId}` })),
      });
    },
    async customerAndDriver() {
      const orderId = uid('order');
      const customer = uid('cust');
      const driver = uid('drv');
      await api.order(orderId, { [customer]: 'customer', [driver]: 'driver' });
      return { orderId, customer, driver, ct: token(customer, 'customer'), dt: token(driver, 'driver') };
    },
    async send(tok, orderId, text) {
      return (await http('POST', '/api/chat/messages', tok, { orderId, message: text })).data as Message;
    },
    async history(tok, orderId) {
      const all: Message[] = [];
      for (let after = 0; ;) {
        const body = await http('GET', `/api/chat/orders/${encodeURIComponent(orderId)}/messages?after=${after}&limit=200`, tok);
        const page = body.data as Message[];
        all.push(...page);
        if (!body.meta?.hasMore || page.length === 0) return all;
        after = body.meta.nextCursor;
      }
    },
    client(options) {
      const c = new OrderChatClient({ url: server().url, transports: ['websocket'], ...options });
      clients.push(c);
      return c;
    },
  };
  return api;
}

/** Resolve once `client` is connected. */
export function connected(client: OrderChatClient, timeoutMs = 15_000): Promise<void> {
  return eventually(() => client.state === 'connected', 'the client is connected', timeoutMs).then(() => undefined);
}
