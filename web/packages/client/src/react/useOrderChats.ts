// useOrderChats: the caller's chat list with live unread counts. `unread-count` events
// (sent to every connection of the user) set a row's count at once, and a `new-message`
// of a listed order (its room is joined on this connection) becomes the row's last
// message at once; other signs of activity (a count that rose, a message of an order not
// listed yet, a notification, an order update) re-read the list shortly after, so last
// messages, order and new chats follow without joining every room.

import { useCallback, useEffect, useRef, useState } from 'react';
import { toOrderChatError, type OrderChatError } from '../errors.js';
import type { TokenSource } from '../token.js';
import type { ChatSummary } from '../types.js';
import { useConnectionState, useSharedClient, type HookOptions } from './shared-client.js';

export interface UseOrderChatsResult {
  /** Most recent activity first, live. */
  chats: ChatSummary[];
  totalUnread: number;
  isConnected: boolean;
  loading: boolean;
  error: OrderChatError | null;
  refresh(): Promise<void>;
}

const REFRESH_DEBOUNCE_MS = 250;

function byActivity(a: ChatSummary, b: ChatSummary): number {
  return a.lastActivityAt < b.lastActivityAt ? 1 : a.lastActivityAt > b.lastActivityAt ? -1 : 0;
}

export interface OrderChatsOptions extends HookOptions {
  /** Rows to read (one page of `GET /api/chat/orders`). Default 100. */
  limit?: number;
  /**
   * Read the list again this often while connected (ms; 0: never). Staff who are not
   * participants of an order get no event for it unless they joined its room, so this is
   * how their list follows those orders. Default 30 000.
   */
  pollMs?: number;
}

export function useOrderChats(token: TokenSource | null, options?: OrderChatsOptions): UseOrderChatsResult {
  const client = useSharedClient(token, options);
  const connectionState = useConnectionState(client);
  const limit = options?.limit ?? 100;
  const pollMs = options?.pollMs ?? 30_000;
  const [chats, setChats] = useState<ChatSummary[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<OrderChatError | null>(null);
  const loadRef = useRef<() => Promise<void>>(async () => undefined);
  const rowsRef = useRef(chats);
  rowsRef.current = chats;

  useEffect(() => {
    setChats([]);
    setLoading(true);
    setError(null);
    if (!client) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The newest answer wins: a slow older listing never overwrites a newer one.
    let asked = 0;
    // Unread counts that came live, with the number of listings asked for by then: a
    // listing asked for before such a count was read before it and must not undo it
    // (a mark-read in another tab, answered while the listing was on its way).
    const liveCounts = new Map<string, { unreadCount: number; askedBefore: number }>();
    const load = async () => {
      const mine = ++asked;
      try {
        const rows = await client.rest.listChats({ limit });
        if (!live || mine !== asked) return;
        const merged = rows.map((row) => {
          const seen = liveCounts.get(row.orderId);
          return seen && seen.askedBefore >= mine ? { ...row, unreadCount: seen.unreadCount } : row;
        });
        for (const [orderId, seen] of liveCounts) if (seen.askedBefore < mine) liveCounts.delete(orderId);
        setChats(merged.sort(byActivity));
        setError(null);
      } catch (err) {
        if (live) setError(toOrderChatError(err));
      } finally {
        if (live) setLoading(false);
      }
    };
    loadRef.current = load;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void load(), REFRESH_DEBOUNCE_MS);
    };
    const offs = [
      client.on('unread-count', (e) => {
        liveCounts.set(e.orderId, { unreadCount: e.unreadCount, askedBefore: asked });
        setChats((rows) => rows.map((r) => (r.orderId === e.orderId && r.unreadCount !== e.unreadCount ? { ...r, unreadCount: e.unreadCount } : r)));
        // A count that rose means a new message (a new last message, a new order at the top).
        const row = rowsRef.current.find((r) => r.orderId === e.orderId);
        if (!row || e.unreadCount > row.unreadCount) soon();
      }),
      client.on('new-message', (e) => {
        if (!rowsRef.current.some((r) => r.orderId === e.orderId)) {
          soon();
          return;
        }
        setChats((rows) => rows
          .map((r) => (r.orderId === e.orderId && (r.lastMessage?.seq ?? 0) < e.message.seq
            ? { ...r, lastMessage: e.message, lastActivityAt: e.message.createdAt > r.lastActivityAt ? e.message.createdAt : r.lastActivityAt }
            : r))
          .sort(byActivity));
      }),
      client.on('notification', soon),
      client.on('order-updated', soon),
      client.on('message-deleted', soon),
    ];
    let wasConnected = client.state === 'connected';
    const offState = client.onState((state) => {
      if (state === 'connected' && !wasConnected) soon();
      wasConnected = state === 'connected';
    });
    const poll = pollMs > 0 ? setInterval(() => { if (client.state === 'connected') void load(); }, pollMs) : undefined;
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
      clearInterval(poll);
      for (const off of offs) off();
      offState();
    };
  }, [client, limit, pollMs]);

  const refresh = useCallback(() => loadRef.current(), []);
  const totalUnread = chats.reduce((n, c) => n + c.unreadCount, 0);
  return { chats, totalUnread, isConnected: connectionState === 'connected', loading, error, refresh };
}
