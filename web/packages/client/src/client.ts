// OrderChatClient: one Socket.IO connection to orderchat with what a chat UI needs on
// top of it — token refresh before expiry and a fresh token after `session-expired`,
// rooms re-joined with `sinceSeq` catch-up after every reconnect (rooms.ts), an outgoing
// queue that retries with the same clientId (outbox.ts), throttled typing (typing.ts) —
// and the REST helpers (rest.ts) on the same token.

import { io, type Socket } from 'socket.io-client';
import { OrderChatError, ackError, toOrderChatError } from './errors.js';
import { Emitter } from './emitter.js';
import { newClientId } from './ids.js';
import { Outbox, type Outgoing } from './outbox.js';
import { RestClient } from './rest.js';
import { RoomBook, type Room } from './rooms.js';
import { TokenKeeper, type TokenSource } from './token.js';
import { TypingThrottle } from './typing.js';
import { SERVER_EVENTS, type JoinResult, type Message, type ReadState, type SendInput, type ServerEvents } from './types.js';

export type { TokenSource } from './token.js';

export interface ClientOptions {
  /** Server origin; default `globalThis.location.origin` (the page's own server). */
  url?: string;
  token: TokenSource;
  /** Refresh this long before the token's `exp` (at most half its life). Default 60. */
  refreshMarginSeconds?: number;
  /** How long to wait for a Socket.IO ack. Default 10 000. */
  ackTimeoutMs?: number;
  /** Socket.IO transports; default socket.io-client's (polling, upgraded to WebSocket). */
  transports?: ('polling' | 'websocket' | 'webtransport')[];
  /** Typing throttle: one `typing-start` per interval, `typing-stop` after a quiet spell (ms). */
  typingIntervalMs?: number;
  typingQuietMs?: number;
  /** Reconnect back-off: first delay and ceiling (ms). Default 300 and 5000. */
  reconnectionDelayMs?: number;
  reconnectionDelayMaxMs?: number;
  /** fetch for the REST helpers (default the global one). */
  fetch?: typeof fetch;
}

export type ConnectionState = 'connecting' | 'connected' | 'offline' | 'expired';

type ClientEvents = ServerEvents & {
  '@state': ConnectionState;
  '@error': OrderChatError;
};

type Ack = { ok: boolean; error?: string; code?: string; retryAfter?: number } & Record<string, unknown>;

export class OrderChatClient {
  /** The REST helpers, on this client's token. */
  readonly rest: RestClient;
  /** The server origin this client talks to. */
  readonly url: string;

  private readonly tokens: TokenKeeper;
  private readonly events = new Emitter<ClientEvents>();
  private readonly rooms: RoomBook;
  private readonly outbox = new Outbox();
  private readonly typingThrottle: TypingThrottle;
  private readonly ackTimeoutMs: number;
  private socketRef: Socket | null = null;
  private stateValue: ConnectionState = 'offline';
  private closed = false;
  private pumping = false;
  private sessionExpired = false;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly options: ClientOptions) {
    const url = options.url ?? (globalThis as { location?: { origin?: string } }).location?.origin;
    if (!url) throw new OrderChatError('invalid_field', 'url: no server URL given and no page origin to default to');
    this.url = url.replace(/\/+$/, '');
    this.tokens = new TokenKeeper(options.token, options.refreshMarginSeconds ?? 60);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.rooms = new RoomBook((event) => this.events.emit('new-message', event));
    this.typingThrottle = new TypingThrottle((event, orderId) => {
      if (this.socketRef?.connected) this.socketRef.emit(event, orderId);
    }, { intervalMs: options.typingIntervalMs, quietMs: options.typingQuietMs });
    this.rest = new RestClient({
      baseUrl: this.url,
      getToken: (refresh) => (refresh ? this.tokens.fresh() : this.tokens.current()),
      canRefresh: () => this.tokens.renewable,
      fetch: options.fetch,
    });
  }

  /** The user id of the token (`sub`); null until a token from a function source arrived. */
  get userId(): string | null {
    return this.tokens.userId;
  }

  /** The role claim of the token. */
  get userRole(): string | null {
    return this.tokens.role;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get isConnected(): boolean {
    return this.stateValue === 'connected';
  }

  /** The underlying socket.io-client Socket (for tests and diagnostics); null before `connect()`. */
  get socket(): Socket | null {
    return this.socketRef;
  }

  /** The clientIds of sends waiting in the outgoing queue, in order. */
  get pendingSends(): string[] {
    return this.outbox.pending();
  }

  /** A token now (fresh if the kept one is due); what the REST helpers use. */
  token(): Promise<string> {
    return this.tokens.current();
  }

  // ---- connection ----

  /** Open the connection (idempotent). The constructor does not connect. */
  connect(): void {
    if (this.closed) throw new OrderChatError('closed', 'this client was closed');
    if (this.socketRef) {
      if (!this.socketRef.connected && !this.socketRef.active) this.socketRef.connect();
      return;
    }
    const socket = io(this.url, {
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: this.options.reconnectionDelayMs ?? 300,
      reconnectionDelayMax: Math.max(this.options.reconnectionDelayMaxMs ?? 5000, this.options.reconnectionDelayMs ?? 0),
      ...(this.options.transports ? { transports: this.options.transports } : {}),
      // Asked on every (re)connect, so a reconnect carries a token that is still valid.
      auth: (cb) => {
        this.tokens.current().then(
          (token) => cb({ token }),
          (err) => {
            this.events.emit('@error', toOrderChatError(err));
            cb({ token: '' });
          },
        );
      },
    });
    this.socketRef = socket;
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (err) => this.onConnectError(err));
    socket.io.on('reconnect_attempt', () => this.setState('connecting'));
    for (const name of SERVER_EVENTS) {
      if (name === 'new-message') socket.on(name, (payload: ServerEvents['new-message']) => this.rooms.live(payload));
      else if (name === 'session-expired') socket.on(name, (payload: ServerEvents['session-expired']) => this.onSessionExpired(payload));
      else socket.on(name, (payload: ServerEvents[typeof name]) => this.events.emit(name, payload));
    }
    this.setState('connecting');
    socket.connect();
  }

  /** Close the connection for good: waiting sends and joins are rejected with `closed`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.typingThrottle.reset();
    const reason = new OrderChatError('closed', 'the client was closed');
    this.outbox.clear(reason);
    for (const room of this.rooms.all()) this.rooms.drop(room.orderId, reason);
    this.socketRef?.disconnect();
    this.socketRef?.removeAllListeners();
    this.setState('offline');
    this.events.clear();
  }

  /** Subscribe to a server event; returns the unsubscribe function. */
  on<E extends keyof ServerEvents>(event: E, handler: (payload: ServerEvents[E]) => void): () => void {
    return this.events.on(event, handler);
  }

  /** Subscribe to connection state changes. */
  onState(handler: (state: ConnectionState) => void): () => void {
    return this.events.on('@state', handler);
  }

  /** Errors that belong to no call (a re-join refused after reconnect, a failed token refresh). */
  onError(handler: (error: OrderChatError) => void): () => void {
    return this.events.on('@error', handler);
  }

  // ---- rooms ----

  /**
   * Join an order's room. The room is remembered and joined again after every reconnect
   * with `sinceSeq`; missed messages come through the `new-message` handlers, each once,
   * in seq order. Resolves once joined (waits while offline).
   */
  joinOrder(orderId: string): Promise<JoinResult> {
    const room = this.rooms.want(orderId);
    const done = new Promise<JoinResult>((resolve, reject) => room.waiters.push({ resolve, reject }));
    // Joined already: join again (with sinceSeq) to answer with fresh lastSeq and online.
    // A join under way answers this call too; offline, the (re)connect joins.
    if (this.socketRef?.connected && room.held === null) void this.join(room);
    return done;
  }

  /** Leave an order's room and forget it. */
  async leaveOrder(orderId: string): Promise<void> {
    this.rooms.drop(orderId, new OrderChatError('closed', `left ${orderId}`));
    this.typingThrottle.stop(orderId);
    if (this.socketRef?.connected) await this.ack('leave-order-room', orderId);
  }

  /** The highest seq delivered for a joined order (null before its first join). */
  lastSeq(orderId: string): number | null {
    return this.rooms.get(orderId)?.lastSeq ?? null;
  }

  private async join(room: Room): Promise<void> {
    this.rooms.joining(room);
    try {
      let since = room.lastSeq;
      let first: JoinResult | null = null;
      const messages: Message[] = [];
      for (;;) {
        const ack = await this.ack<JoinResult & Ack>('join-order-room', since === null ? { orderId: room.orderId } : { orderId: room.orderId, sinceSeq: since });
        first ??= ack;
        messages.push(...ack.messages);
        const last = ack.messages.at(-1);
        if (!ack.hasMore || !last) break;
        since = last.seq;
      }
      if (this.rooms.get(room.orderId) !== room) return; // left meanwhile
      this.rooms.joined(room, { orderId: first.orderId, lastSeq: Math.max(first.lastSeq, messages.at(-1)?.seq ?? 0), messages, hasMore: false, online: first.online });
    } catch (err) {
      const error = toOrderChatError(err);
      if (!error.retryable) {
        this.rooms.failed(room, error);
        this.rooms.drop(room.orderId, error);
        this.events.emit('@error', error);
      } else if (this.socketRef?.connected) {
        // A passing refusal on a live connection (a timeout, `unavailable`): tell, keep the
        // callers waiting, and try again shortly.
        this.rooms.failed(room, error, { keepWaiters: true });
        this.events.emit('@error', error);
        this.later(1000, () => { if (this.rooms.get(room.orderId) === room && !room.joined && room.held === null && this.socketRef?.connected) void this.join(room); });
      } else {
        // Dropped: waiters stay until the reconnect joins again.
        room.held = null;
      }
    }
  }

  // ---- messages ----

  /**
   * Send a message over the socket. While offline it waits in the outgoing queue; a send
   * whose answer was lost is sent again with the same clientId (never stored twice).
   * Rejects only for a refusal that will not change (an invalid message, a closed order …).
   */
  sendMessage(orderId: string, input: string | SendInput): Promise<Message> {
    const body: SendInput = typeof input === 'string' ? { message: input } : input;
    const payload = { ...body, orderId, clientId: body.clientId ?? newClientId() };
    return new Promise<Message>((resolve, reject) => {
      if (this.closed) {
        reject(new OrderChatError('closed', 'the client was closed'));
        return;
      }
      const item: Outgoing = { orderId, payload, resolve, reject, attempts: 0 };
      this.outbox.add(item);
      this.typingThrottle.stop(orderId);
      void this.pump();
    });
  }

  /** Send what waits in the outgoing queue, one after another, while connected. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let item = this.outbox.peek(); item && this.socketRef?.connected && !this.closed; item = this.outbox.peek()) {
        item.attempts += 1;
        try {
          const ack = await this.ack<Ack & { message: Message }>('send-message', item.payload);
          this.outbox.done(item);
          item.resolve(ack.message);
        } catch (err) {
          const error = toOrderChatError(err);
          if (!error.retryable) {
            this.outbox.done(item);
            item.reject(error);
            continue;
          }
          if (error.code === 'unauthenticated') await this.refreshToken().catch(() => undefined);
          if (!this.socketRef?.connected) break; // the reconnect pumps again
          const waitMs = error.retryAfter !== undefined ? error.retryAfter * 1000 : Math.min(5000, 250 * 2 ** Math.min(item.attempts, 5));
          await new Promise((r) => setTimeout(r, waitMs));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** A keystroke: throttled `typing-start`, `typing-stop` after a quiet spell. */
  typing(orderId: string): void {
    this.typingThrottle.typing(orderId);
  }

  /** `typing-stop` now (if a start is open). */
  stopTyping(orderId: string): void {
    this.typingThrottle.stop(orderId);
  }

  /** Move the read pointer (default: the latest message); over the socket, or HTTP while offline. */
  async markRead(orderId: string, seq?: number): Promise<ReadState> {
    if (this.socketRef?.connected) {
      const ack = await this.ack<Ack & ReadState>('mark-read', seq === undefined ? { orderId } : { orderId, seq });
      return { orderId: ack.orderId, seq: ack.seq, unreadCount: ack.unreadCount };
    }
    return this.rest.markRead(orderId, seq);
  }

  /** Add a reaction (over the socket, or HTTP while offline); the message as it is now. */
  async addReaction(messageId: string, emoji: string): Promise<Message> {
    if (this.socketRef?.connected) return (await this.ack<Ack & { message: Message }>('add-reaction', { messageId, emoji })).message;
    return this.rest.addReaction(messageId, emoji);
  }

  /** Take a reaction back. */
  async removeReaction(messageId: string, emoji: string): Promise<Message> {
    if (this.socketRef?.connected) return (await this.ack<Ack & { message: Message }>('remove-reaction', { messageId, emoji })).message;
    return this.rest.removeReaction(messageId, emoji);
  }

  // ---- tokens ----

  /**
   * Send a fresh token from the source with `refresh-token` (done by itself before the
   * token expires). Resolves with the connection's new `validUntil`.
   */
  async refreshToken(): Promise<number | null> {
    const token = await this.tokens.fresh();
    const ack = await this.ack<Ack & { validUntil: number | null }>('refresh-token', { token });
    this.scheduleRefresh();
    return ack.validUntil;
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (!this.tokens.renewable || this.closed) return;
    const wait = this.tokens.msUntilRefresh();
    if (!Number.isFinite(wait)) return;
    this.refreshTimer = setTimeout(() => {
      if (!this.socketRef?.connected) return; // the reconnect fetches a token and reschedules
      const before = this.tokens.exp;
      this.refreshToken().then(
        () => {
          // A source that keeps answering the same token: ask again in a while, not in a loop.
          if (this.tokens.exp === before) {
            clearTimeout(this.refreshTimer);
            this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 1000);
          }
        },
        (err) => {
          this.events.emit('@error', toOrderChatError(err));
          this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 1000);
        },
      );
    }, Math.max(0, wait));
  }

  // ---- socket lifecycle ----

  private onConnect(): void {
    this.sessionExpired = false;
    this.setState('connected');
    this.scheduleRefresh();
    for (const room of this.rooms.all()) if (room.held === null) void this.join(room);
    void this.pump();
  }

  private onDisconnect(reason: string): void {
    this.rooms.disconnected();
    this.typingThrottle.reset();
    clearTimeout(this.refreshTimer);
    if (this.closed) return;
    if (reason === 'io client disconnect') {
      this.setState('offline');
      return;
    }
    if (reason === 'io server disconnect') {
      // The server ended the connection; socket.io does not reconnect by itself. After an
      // expired session: with a fresh token when the source can give one ('expired' when
      // it cannot); otherwise (a server going down) try again after a pause.
      if (this.sessionExpired && !this.tokens.renewable) {
        this.setState('expired');
        return;
      }
      this.setState('connecting');
      if (this.sessionExpired) this.reconnectWithFreshToken();
      else this.later(1000, () => { if (!this.socketRef?.connected) this.socketRef?.connect(); });
      return;
    }
    this.setState(this.socketRef?.active ? 'connecting' : 'offline');
  }

  private onConnectError(err: Error): void {
    if (this.closed || !this.socketRef) return;
    if (this.socketRef.active) {
      this.setState('connecting'); // socket.io retries by itself
      return;
    }
    // Refused by the server (a bad or expired token, too many connections): not retried by socket.io.
    const auth = /^Authentication error/i.test(err.message);
    this.events.emit('@error', new OrderChatError(auth ? 'unauthenticated' : 'network', err.message));
    if (auth && !this.tokens.renewable) {
      this.setState('expired');
      return;
    }
    this.setState('connecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => (auth ? this.reconnectWithFreshToken() : this.socketRef?.connect()), 1000);
  }

  private onSessionExpired(payload: ServerEvents['session-expired']): void {
    this.sessionExpired = true;
    this.events.emit('session-expired', payload);
  }

  private reconnectWithFreshToken(): void {
    this.tokens.fresh().then(
      () => { if (!this.closed) this.socketRef?.connect(); },
      (err) => {
        this.events.emit('@error', toOrderChatError(err));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.reconnectWithFreshToken(), 2000);
      },
    );
  }

  /** Run `fn` after `ms` unless the client is closed first. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.events.emit('@state', state);
  }

  /** Emit with an ack: resolves with `{ ok: true, … }`, rejects with an OrderChatError. */
  private ack<T extends Ack>(event: string, payload: unknown): Promise<T> {
    const socket = this.socketRef;
    if (!socket?.connected) return Promise.reject(new OrderChatError('network', `${event}: not connected`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: OrderChatError | null, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('disconnect', onDrop);
        if (err) reject(err);
        else resolve(value as T);
      };
      const onDrop = () => finish(new OrderChatError('network', `${event}: the connection dropped before the answer`));
      const timer = setTimeout(() => finish(new OrderChatError('timeout', `${event}: no answer within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
      socket.on('disconnect', onDrop);
      socket.emit(event, payload, (ack: T) => {
        if (ack && ack.ok) finish(null, ack);
        else finish(ackError(ack ?? {}));
      });
    });
  }
}
