// useChat: one order's chat for a React component — messages (by seq, each once, with
// optimistic sends), connection state, typing, presence, read pointers, the caller's
// unread count, older pages, search, attachments, edit/delete/react.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { OrderChatClient, ConnectionState } from '../client.js';
import { OrderChatError, toOrderChatError } from '../errors.js';
import { newClientId } from '../ids.js';
import type { TokenSource } from '../token.js';
import type { Message, Participant } from '../types.js';
import { MessageList, type ChatMessage } from './message-list.js';
import { holdRoom, releaseRoom, useConnectionState, useSharedClient, type HookOptions } from './shared-client.js';

export type { ChatMessage } from './message-list.js';

export interface SendOptions {
  replyTo?: string;
  /** Uploaded first (`POST /api/chat/attachments`), then attached to the message. */
  files?: File[];
}

export interface UseChatResult {
  /** Ordered by seq, each once; optimistic sends (`pending`) last, in send order. */
  messages: ChatMessage[];
  isConnected: boolean;
  connectionState: ConnectionState;
  /** The last error (join refused, send failed …). */
  error: OrderChatError | null;
  /** True until the first page of history is in. */
  loading: boolean;
  /** Optimistic: shown at once with `pending`, replaced by the stored message. */
  sendMessage(text: string, opts?: SendOptions): Promise<Message>;
  /** Send a failed optimistic message again (same clientId: never stored twice). */
  retry(clientId: string): Promise<Message>;
  editMessage(messageId: string, text: string): Promise<Message>;
  deleteMessage(messageId: string): Promise<void>;
  /** Toggle: adds the reaction, or takes it back if the user already reacted with it. */
  react(messageId: string, emoji: string): Promise<void>;
  /** User ids typing now, never yourself. */
  typingUsers: string[];
  /** User ids online in this order. */
  onlineUsers: string[];
  participants: Participant[];
  /** userId → the last seq they read. */
  readBy: Record<string, number>;
  /** The caller's unread messages in this order (never their own). */
  unreadCount: number;
  /** Move the read pointer (default: the newest message shown). */
  markAsRead(seq?: number): Promise<void>;
  /** Load the page before the oldest message shown. */
  loadOlder(): Promise<void>;
  hasOlder: boolean;
  loadingOlder: boolean;
  searchMessages(q: string): Promise<Message[]>;
  /** Call on every keystroke; throttled. */
  notifyTyping(): void;
  /** The user id of the token. */
  userId: string | null;
  client: OrderChatClient | null;
}

const TYPING_EXPIRY_MS = 6000;

export function useChat(token: TokenSource | null, orderId: string | null, options?: HookOptions): UseChatResult {
  const client = useSharedClient(token, options);
  const connectionState = useConnectionState(client);
  const pageSize = options?.pageSize ?? 50;

  const [list, setList] = useState<MessageList>(() => MessageList.empty());
  const [error, setError] = useState<OrderChatError | null>(null);
  const [loading, setLoading] = useState(true);
  const [typing, setTyping] = useState<string[]>([]);
  const [online, setOnline] = useState<string[]>([]);
  const [participants, setParticipants] = useState<Participant[]>([]);
  const [readBy, setReadBy] = useState<Record<string, number>>({});
  const [unreadCount, setUnreadCount] = useState(0);
  const [hasOlder, setHasOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const listRef = useRef(list);
  listRef.current = list;
  const olderRef = useRef({ hasOlder: false, loading: false });
  // What a failed send needs to be retried: its reply target, its files and, once uploaded, their ids.
  const sendsRef = useRef(new Map<string, SendOptions & { attachmentIds?: string[] }>());

  const update = useCallback((change: (l: MessageList) => MessageList) => {
    setList((l) => {
      const next = change(l);
      listRef.current = next;
      return next;
    });
  }, []);

  useEffect(() => {
    update(() => MessageList.empty());
    setError(null);
    setLoading(true);
    setTyping([]);
    setOnline([]);
    setParticipants([]);
    setReadBy({});
    setUnreadCount(0);
    setHasOlder(false);
    olderRef.current = { hasOlder: false, loading: false };
    if (!client || !orderId) return;
    let live = true;
    const me = () => client.userId;
    const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
    const setTypingUser = (userId: string, isTyping: boolean) => {
      clearTimeout(typingTimers.get(userId));
      typingTimers.delete(userId);
      if (isTyping) typingTimers.set(userId, setTimeout(() => setTypingUser(userId, false), TYPING_EXPIRY_MS));
      setTyping((users) => {
        const has = users.includes(userId);
        if (isTyping === has) return users;
        return isTyping ? [...users, userId] : users.filter((u) => u !== userId);
      });
    };
    const setOnlineUser = (userId: string, isOnline: boolean) =>
      setOnline((users) => {
        const has = users.includes(userId);
        if (isOnline === has) return users;
        return isOnline ? [...users, userId] : users.filter((u) => u !== userId);
      });
    const moveRead = (userId: string, seq: number) =>
      setReadBy((r) => ((r[userId] ?? 0) >= seq ? r : { ...r, [userId]: seq }));
    const knownUsers = new Set<string>();

    const offs = [
      client.on('new-message', (e) => {
        if (e.orderId !== orderId) return;
        update((l) => l.upsert([e.message]));
        if (e.message.user) setTypingUser(e.message.user.id, false);
      }),
      client.on('message-updated', (e) => { if (e.orderId === orderId) update((l) => l.upsert([e.message])); }),
      client.on('message-deleted', (e) => { if (e.orderId === orderId) update((l) => l.upsert([e.message])); }),
      client.on('user-typing', (e) => { if (e.orderId === orderId && e.userId !== me()) setTypingUser(e.userId, e.isTyping); }),
      client.on('message-read', (e) => { if (e.orderId === orderId) moveRead(e.userId, e.seq); }),
      client.on('user-joined-order', (e) => { if (e.orderId === orderId) setOnlineUser(e.userId, true); }),
      client.on('presence', (e) => { if (knownUsers.size === 0 || knownUsers.has(e.userId)) setOnlineUser(e.userId, e.online); }),
      client.on('unread-count', (e) => { if (e.orderId === orderId) setUnreadCount(e.unreadCount); }),
    ];

    const fail = (err: unknown) => {
      if (!live) return;
      setError(toOrderChatError(err));
      setLoading(false);
    };
    const loadSide = async () => {
      const [people, unread] = await Promise.all([client.rest.participants(orderId), client.rest.unreadCount(orderId)]);
      if (!live) return;
      for (const p of people) knownUsers.add(p.userId);
      setParticipants(people);
      setReadBy((r) => {
        const next = { ...r };
        for (const p of people) if ((next[p.userId] ?? 0) < p.readSeq) next[p.userId] = p.readSeq;
        return next;
      });
      // Participants: as the server says now; others seen in the room (staff) are kept.
      setOnline((users) => [
        ...users.filter((u) => !knownUsers.has(u)),
        ...people.filter((p) => p.online).map((p) => p.userId),
      ]);
      setUnreadCount(unread);
    };

    holdRoom(client, orderId);
    (async () => {
      const joined = await client.joinOrder(orderId);
      if (!live) return;
      setOnline(joined.online);
      // Everything up to the join's lastSeq from history, everything after it live: no gap.
      const page = await client.rest.history(orderId, { before: joined.lastSeq + 1, limit: pageSize });
      if (!live) return;
      update((l) => l.upsert(page.messages));
      olderRef.current.hasOlder = page.hasMore;
      setHasOlder(page.hasMore);
      setLoading(false);
      await loadSide();
    })().catch(fail);

    // After a reconnect the room is joined again by the client (catch-up comes as
    // new-message); presence, read pointers and the unread count are read again.
    let wasConnected = client.state === 'connected';
    const offState = client.onState((state) => {
      if (state === 'connected' && !wasConnected) loadSide().catch(fail);
      wasConnected = state === 'connected';
      if (state !== 'connected') for (const u of [...typingTimers.keys()]) setTypingUser(u, false);
    });
    const offError = client.onError((err) => { if (live) setError(err); });

    return () => {
      live = false;
      for (const off of offs) off();
      offState();
      offError();
      for (const t of typingTimers.values()) clearTimeout(t);
      releaseRoom(client, orderId);
    };
  }, [client, orderId, pageSize, update]);

  const send = useCallback(async (clientId: string, text: string, opts: SendOptions & { attachmentIds?: string[] }): Promise<Message> => {
    if (!client || !orderId) throw new OrderChatError('invalid_field', 'useChat: no client or order');
    const now = new Date().toISOString();
    const userId = client.userId;
    const optimistic: ChatMessage & { clientId: string } = {
      id: clientId, _id: clientId, orderId, seq: 0,
      user: userId ? { id: userId, name: null, role: client.userRole ?? '' } : null,
      message: text, messageType: opts.files?.length || opts.attachmentIds?.length ? 'file' : 'text', senderType: 'user',
      attachments: [], replyTo: opts.replyTo ?? null, replyPreview: null, clientId,
      createdAt: now, updatedAt: now, editedAt: null, deleted: false, reactions: [], pending: true,
    };
    update((l) => l.withPending(optimistic));
    sendsRef.current.set(clientId, opts);
    try {
      let attachments = opts.attachmentIds;
      if (!attachments && opts.files?.length) {
        const uploaded = await Promise.all(opts.files.map((f) => client.rest.upload(f, f.name, orderId)));
        attachments = uploaded.map((a) => a.id);
        sendsRef.current.set(clientId, { ...opts, attachmentIds: attachments });
      }
      const message = await client.sendMessage(orderId, {
        message: text, clientId,
        ...(opts.replyTo ? { replyTo: opts.replyTo } : {}),
        ...(attachments?.length ? { attachments } : {}),
      });
      update((l) => l.upsert([message]));
      sendsRef.current.delete(clientId);
      return message;
    } catch (err) {
      const failed = toOrderChatError(err);
      update((l) => (l.pending(clientId) ? l.withPending({ ...optimistic, failed }) : l));
      setError(failed);
      throw failed;
    }
  }, [client, orderId, update]);

  const sendMessage = useCallback((text: string, opts: SendOptions = {}) => send(newClientId(), text, opts), [send]);

  const retry = useCallback((clientId: string) => {
    const old = listRef.current.pending(clientId);
    if (!old) return Promise.reject(new OrderChatError('invalid_field', `clientId: no failed message ${clientId}`));
    return send(clientId, old.message, sendsRef.current.get(clientId) ?? {});
  }, [send]);

  const need = useCallback((): OrderChatClient => {
    if (!client || !orderId) throw new OrderChatError('invalid_field', 'useChat: no client or order');
    return client;
  }, [client, orderId]);

  const editMessage = useCallback(async (messageId: string, text: string) => {
    const message = await need().rest.editMessage(messageId, text);
    update((l) => l.upsert([message]));
    return message;
  }, [need, update]);

  const deleteMessage = useCallback(async (messageId: string) => {
    const message = await need().rest.deleteMessage(messageId);
    update((l) => l.upsert([message]));
  }, [need, update]);

  const react = useCallback(async (messageId: string, emoji: string) => {
    const c = need();
    const current = listRef.current.find(messageId);
    const mine = current?.reactions.some((r) => r.emoji === emoji && c.userId !== null && r.userIds.includes(c.userId));
    const message = mine ? await c.removeReaction(messageId, emoji) : await c.addReaction(messageId, emoji);
    update((l) => l.upsert([message]));
  }, [need, update]);

  const markAsRead = useCallback(async (seq?: number) => {
    const c = need();
    const upTo = seq ?? listRef.current.highestSeq ?? undefined;
    const state = await c.markRead(orderId as string, upTo);
    setUnreadCount(state.unreadCount);
    if (c.userId) setReadBy((r) => ((r[c.userId as string] ?? 0) >= state.seq ? r : { ...r, [c.userId as string]: state.seq }));
  }, [need, orderId]);

  const loadOlder = useCallback(async () => {
    const c = need();
    const before = listRef.current.lowestSeq;
    if (!olderRef.current.hasOlder || olderRef.current.loading || before === null) return;
    olderRef.current.loading = true;
    setLoadingOlder(true);
    try {
      const page = await c.rest.history(orderId as string, { before, limit: pageSize });
      update((l) => l.upsert(page.messages));
      olderRef.current.hasOlder = page.hasMore;
      setHasOlder(page.hasMore);
    } finally {
      olderRef.current.loading = false;
      setLoadingOlder(false);
    }
  }, [need, orderId, pageSize, update]);

  const searchMessages = useCallback((q: string) => need().rest.search(orderId as string, q), [need, orderId]);

  const notifyTyping = useCallback(() => {
    if (client && orderId) client.typing(orderId);
  }, [client, orderId]);

  const messages = useMemo(() => list.toArray(), [list]);

  return {
    messages, isConnected: connectionState === 'connected', connectionState, error, loading,
    sendMessage, retry, editMessage, deleteMessage, react,
    typingUsers: typing, onlineUsers: online, participants, readBy, unreadCount, markAsRead,
    loadOlder, hasOlder, loadingOlder, searchMessages, notifyTyping,
    userId: client?.userId ?? null, client,
  };
}
