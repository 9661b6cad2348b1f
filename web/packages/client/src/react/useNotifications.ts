// useNotifications: the caller's notifications, newest first — the stored ones
// (`GET /api/chat/notifications`) plus live `notification` events (a coalesced one
// updates its entry in place: same id, growing count). Marking read goes to the server.

import { useCallback, useEffect, useRef, useState } from 'react';
import { toOrderChatError, type OrderChatError } from '../errors.js';
import type { TokenSource } from '../token.js';
import type { Notification, ServerEvents } from '../types.js';
import { useSharedClient, type HookOptions } from './shared-client.js';

export interface UseNotificationsResult {
  /** Newest first. */
  notifications: Notification[];
  /** Unread among `notifications`. */
  unreadCount: number;
  loading: boolean;
  error: OrderChatError | null;
  markRead(ids: string[]): Promise<void>;
  markAllRead(): Promise<void>;
  refresh(): Promise<void>;
}

/** A live event as a Notification; an event the server did not store gets a local id `live:…`. */
function fromEvent(e: ServerEvents['notification']): Notification {
  return {
    id: e.id ?? `live:${e.orderId}:${e.seq ?? e.timestamp}`,
    type: e.type, orderId: e.orderId, title: e.title, message: e.message,
    messageId: e.messageId ?? null, seq: e.seq ?? null, count: e.count,
    read: false, readAt: null, createdAt: e.timestamp, updatedAt: e.timestamp, cursor: '', timestamp: e.timestamp,
  };
}

function newestFirst(list: Notification[]): Notification[] {
  return [...list].sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
}

export function useNotifications(token: TokenSource | null, options?: HookOptions & { limit?: number }): UseNotificationsResult {
  const client = useSharedClient(token, options);
  const limit = options?.limit ?? 50;
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<OrderChatError | null>(null);
  const loadRef = useRef<() => Promise<void>>(async () => undefined);

  useEffect(() => {
    setNotifications([]);
    setLoading(true);
    setError(null);
    if (!client) return;
    let live = true;
    const load = async () => {
      try {
        const page = await client.rest.notifications({ limit });
        if (!live) return;
        setNotifications((current) => {
          // Live ones the server did not store stay until read.
          const local = current.filter((n) => n.id.startsWith('live:'));
          return newestFirst([...page.notifications, ...local]);
        });
        setError(null);
      } catch (err) {
        if (live) setError(toOrderChatError(err));
      } finally {
        if (live) setLoading(false);
      }
    };
    loadRef.current = load;
    const off = client.on('notification', (e) => {
      const n = fromEvent(e);
      setNotifications((list) => newestFirst([n, ...list.filter((x) => x.id !== n.id)]));
    });
    let wasConnected = client.state === 'connected';
    const offState = client.onState((state) => {
      if (state === 'connected' && !wasConnected) void load();
      wasConnected = state === 'connected';
    });
    void load();
    return () => {
      live = false;
      off();
      offState();
    };
  }, [client, limit]);

  const markRead = useCallback(async (ids: string[]) => {
    if (!client) return;
    const stored = ids.filter((id) => !id.startsWith('live:'));
    if (stored.length > 0) await client.rest.markNotificationsRead({ ids: stored });
    const now = new Date().toISOString();
    const set = new Set(ids);
    setNotifications((list) => list.map((n) => (set.has(n.id) && !n.read ? { ...n, read: true, readAt: now } : n)));
  }, [client]);

  const markAllRead = useCallback(async () => {
    if (!client) return;
    // "Everything up to the newest": the newest stored notification's cursor.
    const newest = (await client.rest.notifications({ limit: 1 })).notifications[0];
    if (newest) await client.rest.markNotificationsRead({ before: newest.cursor });
    const now = new Date().toISOString();
    setNotifications((list) => list.map((n) => (n.read ? n : { ...n, read: true, readAt: now })));
  }, [client]);

  const refresh = useCallback(() => loadRef.current(), []);
  const unreadCount = notifications.filter((n) => !n.read).length;
  return { notifications, unreadCount, loading, error, markRead, markAllRead, refresh };
}
