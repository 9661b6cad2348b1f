// One OrderChatClient per (url, token source) for every hook on the page: a small
// ref-counted cache, so a chat list, a chat and the notification bell share one
// connection. The last hook to let go closes the client (a tick later, so React's
// StrictMode unmount-and-mount does not reconnect). Room joins are counted too: a room
// is left when the last hook that joined it lets go.

import { useEffect, useState, useSyncExternalStore } from 'react';
import { OrderChatClient, type ConnectionState } from '../client.js';
import type { TokenSource } from '../token.js';

export interface HookOptions {
  /** Server origin; default the page's origin. */
  url?: string;
  /** Use this client instead of the shared one (its owner connects and closes it). */
  client?: OrderChatClient;
  /** Messages per history page (useChat). Default 50. */
  pageSize?: number;
}

interface Entry {
  client: OrderChatClient;
  refs: number;
  closeTimer?: ReturnType<typeof setTimeout>;
}

const entries = new Map<string, Entry>();
const functionIds = new WeakMap<object, number>();
let nextFunctionId = 1;

function keyOf(url: string | undefined, token: TokenSource): string {
  let source: string;
  if (typeof token === 'string') source = `s:${token}`;
  else {
    let fid = functionIds.get(token);
    if (fid === undefined) {
      fid = nextFunctionId++;
      functionIds.set(token, fid);
    }
    source = `f:${fid}`;
  }
  return `${url ?? ''}\u0000${source}`;
}

/** Take a reference on the shared client of (url, token), creating and connecting it. */
export function acquireClient(url: string | undefined, token: TokenSource): OrderChatClient {
  const key = keyOf(url, token);
  let entry = entries.get(key);
  if (!entry) {
    const client = new OrderChatClient(url === undefined ? { token } : { url, token });
    entry = { client, refs: 0 };
    entries.set(key, entry);
  }
  clearTimeout(entry.closeTimer);
  entry.refs += 1;
  entry.client.connect();
  return entry.client;
}

/** Drop a reference taken by `acquireClient`. */
export function releaseClient(client: OrderChatClient): void {
  for (const [key, entry] of entries) {
    if (entry.client !== client) continue;
    entry.refs -= 1;
    if (entry.refs <= 0) {
      clearTimeout(entry.closeTimer);
      entry.closeTimer = setTimeout(() => {
        if (entry.refs > 0) return;
        entries.delete(key);
        entry.client.close();
      }, 0);
    }
    return;
  }
}

/** The client the hooks of a component use: the caller's own, or the shared one. */
export function useSharedClient(token: TokenSource | null, options: HookOptions | undefined): OrderChatClient | null {
  const given = options?.client;
  const url = options?.url;
  const [shared, setShared] = useState<OrderChatClient | null>(null);
  useEffect(() => {
    if (given || token === null) {
      setShared(null);
      return;
    }
    const client = acquireClient(url, token);
    setShared(client);
    return () => releaseClient(client);
  }, [given, url, token]);
  return given ?? shared;
}

const noop = () => () => undefined;

/** The client's connection state, re-rendering on change. */
export function useConnectionState(client: OrderChatClient | null): ConnectionState {
  return useSyncExternalStore(
    client ? (cb) => client.onState(cb) : noop,
    () => client?.state ?? 'offline',
    () => 'offline',
  );
}

const roomRefs = new WeakMap<OrderChatClient, Map<string, number>>();

/** Note one more user of a room on `client` (the room is joined by the caller). */
export function holdRoom(client: OrderChatClient, orderId: string): void {
  let refs = roomRefs.get(client);
  if (!refs) {
    refs = new Map();
    roomRefs.set(client, refs);
  }
  refs.set(orderId, (refs.get(orderId) ?? 0) + 1);
}

/** One user fewer; the last one leaves the room. */
export function releaseRoom(client: OrderChatClient, orderId: string): void {
  const refs = roomRefs.get(client);
  const n = (refs?.get(orderId) ?? 1) - 1;
  if (n > 0) {
    refs?.set(orderId, n);
    return;
  }
  refs?.delete(orderId);
  client.leaveOrder(orderId).catch(() => undefined);
}
