// RestClient: one method per HTTP endpoint of the server's OpenAPI document. Each
// method names its path, method and status in the generated `paths` type, so its answer
// type comes from the document; every refusal becomes an OrderChatError with the
// server's code and status.

import type { paths } from './generated/openapi.js';
import { OrderChatError } from './errors.js';
import type {
  Attachment, ChatSummary, ExportFile, Message, MuteState, Notification, NotificationItem, Order,
  OrderStats, OrderUpdate, PageMeta, Participant, PutOrder, ReadState, SendInput,
} from './types.js';

/** The JSON body the document gives `M P` for `status`. */
type Body<P extends keyof paths, M extends keyof paths[P], S extends number> =
  paths[P][M] extends { responses: { [K in S]: { content: { 'application/json': infer B } } } } ? B : never;
/** The `data` of that body. */
type Data<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  Body<P, M, S> extends { data: infer D } ? D : never;

export interface RestOptions {
  /** Server origin, e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The token for the next request; `refresh` asks for a new one after a 401. */
  getToken(refresh: boolean): Promise<string>;
  /** Whether a 401 may be retried once with a fresh token. */
  canRefresh(): boolean;
  fetch?: typeof fetch;
}

export interface HistoryQuery {
  before?: number;
  after?: number;
  limit?: number;
  page?: number;
  includeArchived?: boolean;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
  /** Cursor queries: the seq to pass on (lowest for `before`, highest for `after`). */
  nextCursor: number | null;
  /** Page queries only. */
  page?: PageMeta;
}

export interface NotificationsPage {
  notifications: Notification[];
  hasMore: boolean;
  nextCursor: string | null;
}

type Query = Record<string, string | number | boolean | undefined>;

interface RequestInit2 {
  query?: Query;
  json?: unknown;
  form?: FormData;
}

export class RestClient {
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RestOptions) {
    this.fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  // ---- messages ----

  /** `GET /api/chat/orders/:orderId/messages` — cursor (`before`/`after`) or page query. */
  async history(orderId: string, q: HistoryQuery = {}): Promise<HistoryPage> {
    const body = await this.json<Body<'/api/chat/orders/{order_id}/messages', 'get', 200>>('GET', `/api/chat/orders/${enc(orderId)}/messages`, {
      query: { before: q.before, after: q.after, limit: q.limit, page: q.page, includeArchived: q.includeArchived },
    });
    const meta = body.meta;
    if ('hasMore' in meta) return { messages: body.data, hasMore: meta.hasMore, nextCursor: meta.nextCursor };
    return { messages: body.data, hasMore: meta.currentPage < meta.totalPages, nextCursor: null, page: meta };
  }

  /** `POST /api/chat/messages` — 201, or 200 with the first message for a repeated `clientId`. */
  sendMessage(input: SendInput & { orderId: string }): Promise<Message> {
    return this.data<Data<'/api/chat/messages', 'post', 201>>('POST', '/api/chat/messages', { json: input });
  }

  /** `PATCH /api/chat/messages/:messageId` — author only. */
  editMessage(messageId: string, text: string): Promise<Message> {
    return this.data<Data<'/api/chat/messages/{message_id}', 'patch'>>('PATCH', `/api/chat/messages/${enc(messageId)}`, { json: { message: text } });
  }

  /** `DELETE /api/chat/messages/:messageId` — the tombstone. */
  deleteMessage(messageId: string): Promise<Message> {
    return this.data<Data<'/api/chat/messages/{message_id}', 'delete'>>('DELETE', `/api/chat/messages/${enc(messageId)}`);
  }

  /** `GET /api/chat/messages/:messageId/replies` */
  async replies(messageId: string, q: { after?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean; nextCursor: number | null }> {
    const body = await this.json<Body<'/api/chat/messages/{message_id}/replies', 'get', 200>>('GET', `/api/chat/messages/${enc(messageId)}/replies`, { query: q });
    return { messages: body.data, hasMore: body.meta.hasMore, nextCursor: body.meta.nextCursor };
  }

  /** `PUT /api/chat/messages/:messageId/reactions/:emoji` */
  addReaction(messageId: string, emoji: string): Promise<Message> {
    return this.data<Data<'/api/chat/messages/{message_id}/reactions/{emoji}', 'put'>>('PUT', `/api/chat/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }

  /** `DELETE /api/chat/messages/:messageId/reactions/:emoji` */
  removeReaction(messageId: string, emoji: string): Promise<Message> {
    return this.data<Data<'/api/chat/messages/{message_id}/reactions/{emoji}', 'delete'>>('DELETE', `/api/chat/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }

  // ---- chats ----

  /** `GET /api/chat/orders` — the caller's chats, most recent activity first (one page). */
  async listChats(q: { page?: number; limit?: number } = {}): Promise<ChatSummary[]> {
    const body = await this.json<Body<'/api/chat/orders', 'get', 200>>('GET', '/api/chat/orders', { query: q });
    return body.data;
  }

  /** `GET /api/chat/orders` with its page meta. */
  async listChatsPage(q: { page?: number; limit?: number } = {}): Promise<{ chats: ChatSummary[]; page: PageMeta }> {
    const body = await this.json<Body<'/api/chat/orders', 'get', 200>>('GET', '/api/chat/orders', { query: q });
    return { chats: body.data, page: body.meta };
  }

  /** `PATCH /api/chat/orders/:orderId/read` — moves the read pointer (default: the latest). */
  markRead(orderId: string, seq?: number): Promise<ReadState> {
    return this.data<Data<'/api/chat/orders/{order_id}/read', 'patch'>>('PATCH', `/api/chat/orders/${enc(orderId)}/read`, { json: seq === undefined ? {} : { seq } });
  }

  /** `GET /api/chat/orders/:orderId/unread-count` */
  async unreadCount(orderId: string): Promise<number> {
    const data = await this.data<Data<'/api/chat/orders/{order_id}/unread-count', 'get'>>('GET', `/api/chat/orders/${enc(orderId)}/unread-count`);
    return data.unreadCount;
  }

  /** `GET /api/chat/orders/:orderId/messages/search?q=` — ranked, best first. */
  async search(orderId: string, q: string, page: { page?: number; limit?: number } = {}): Promise<Message[]> {
    const body = await this.json<Body<'/api/chat/orders/{order_id}/messages/search', 'get', 200>>('GET', `/api/chat/orders/${enc(orderId)}/messages/search`, { query: { q, ...page } });
    return body.data;
  }

  /** `GET /api/chat/search?q=` — across every order the caller may see. */
  async searchAll(q: string, page: { page?: number; limit?: number } = {}): Promise<Message[]> {
    const body = await this.json<Body<'/api/chat/search', 'get', 200>>('GET', '/api/chat/search', { query: { q, ...page } });
    return body.data;
  }

  /** `GET /api/chat/orders/:orderId/participants` — online status and read pointers. */
  participants(orderId: string): Promise<Participant[]> {
    return this.data<Data<'/api/chat/orders/{order_id}/participants', 'get'>>('GET', `/api/chat/orders/${enc(orderId)}/participants`);
  }

  /** `GET /api/chat/orders/:orderId/stats` */
  stats(orderId: string): Promise<OrderStats> {
    return this.data<Data<'/api/chat/orders/{order_id}/stats', 'get'>>('GET', `/api/chat/orders/${enc(orderId)}/stats`);
  }

  /** `PUT /api/chat/orders/:orderId/mute` */
  mute(orderId: string): Promise<MuteState> {
    return this.data<Data<'/api/chat/orders/{order_id}/mute', 'put'>>('PUT', `/api/chat/orders/${enc(orderId)}/mute`);
  }

  /** `DELETE /api/chat/orders/:orderId/mute` */
  unmute(orderId: string): Promise<MuteState> {
    return this.data<Data<'/api/chat/orders/{order_id}/mute', 'delete'>>('DELETE', `/api/chat/orders/${enc(orderId)}/mute`);
  }

  /** `GET /api/chat/orders/:orderId/export?format=` — the file as a Blob. */
  export(orderId: string, format: 'json' | 'csv' = 'json'): Promise<Blob> {
    return this.blob(`/api/chat/orders/${enc(orderId)}/export?format=${format}`);
  }

  /** The JSON export, parsed. */
  async exportJson(orderId: string): Promise<ExportFile> {
    const blob = await this.export(orderId, 'json');
    return JSON.parse(await blob.text()) as ExportFile;
  }

  // ---- attachments ----

  /** `POST /api/chat/attachments` — multipart, `orderId` before `file`; reference the id in a message. */
  upload(file: Blob, fileName: string, orderId: string): Promise<Attachment> {
    const form = new FormData();
    form.append('orderId', orderId);
    form.append('file', file, fileName);
    return this.data<Data<'/api/chat/attachments', 'post', 201>>('POST', '/api/chat/attachments', { form });
  }

  /** `GET /api/chat/attachments/:id` (or any `url`/`thumbnailUrl` of an attachment) with the token. */
  download(url: string): Promise<Blob> {
    return this.blob(url);
  }

  // ---- notifications ----

  /** `GET /api/chat/notifications` — newest first. */
  async notifications(q: { unread?: boolean; cursor?: string; limit?: number } = {}): Promise<NotificationsPage> {
    const body = await this.json<Body<'/api/chat/notifications', 'get', 200>>('GET', '/api/chat/notifications', { query: q });
    return { notifications: body.data.map(storedNotification), hasMore: body.meta.hasMore, nextCursor: body.meta.nextCursor };
  }

  /** `PATCH /api/chat/notifications/read` — by ids, or everything at or below a cursor. */
  markNotificationsRead(sel: { ids: string[] } | { before: string }): Promise<{ updated: number }> {
    return this.data<Data<'/api/chat/notifications/read', 'patch'>>('PATCH', '/api/chat/notifications/read', { json: sel });
  }

  // ---- orders (role service; GET also for participants and staff) ----

  /** `GET /api/orders/:orderId` */
  getOrder(orderId: string): Promise<Order> {
    return this.data<Data<'/api/orders/{order_id}', 'get'>>('GET', `/api/orders/${enc(orderId)}`);
  }

  /** `PUT /api/orders/:orderId` — create or replace (role `service`). */
  putOrder(orderId: string, order: PutOrder): Promise<Order> {
    return this.data<Data<'/api/orders/{order_id}', 'put', 200>>('PUT', `/api/orders/${enc(orderId)}`, { json: order });
  }

  /** `PATCH /api/orders/:orderId` — status, note, participants (role `service`). */
  updateOrder(orderId: string, update: OrderUpdate): Promise<Order> {
    return this.data<Data<'/api/orders/{order_id}', 'patch'>>('PATCH', `/api/orders/${enc(orderId)}`, { json: update });
  }

  /** `GET /api/openapi.json` — the server's OpenAPI document (no token). */
  async openapi(): Promise<Record<string, unknown>> {
    const res = await this.fetchImpl(this.url('/api/openapi.json'));
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as Record<string, unknown>;
  }

  // ---- transport ----

  private async data<D>(method: string, path: string, init: RequestInit2 = {}): Promise<D> {
    const body = await this.json<{ data: D }>(method, path, init);
    return body.data;
  }

  private async json<B>(method: string, path: string, init: RequestInit2 = {}): Promise<B> {
    const res = await this.send(method, path, init);
    try {
      return (await res.json()) as B;
    } catch (err) {
      throw new OrderChatError('network', `${method} ${path}: the answer is not JSON`, { status: res.status, cause: err });
    }
  }

  private async blob(path: string): Promise<Blob> {
    const res = await this.send('GET', path, {});
    return res.blob();
  }

  private url(path: string, query?: Query): string {
    const url = new URL(path, this.options.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** The response when ok; a 401 is retried once with a fresh token when the source can give one. */
  private async send(method: string, path: string, init: RequestInit2): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.options.getToken(attempt > 0);
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      let body: BodyInit | undefined;
      if (init.form) body = init.form;
      else if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] = 'application/json';
      }
      let res: Response;
      try {
        res = await this.fetchImpl(this.url(path, init.query), { method, headers, body });
      } catch (err) {
        throw new OrderChatError('network', `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (res.ok) return res;
      if (res.status === 401 && attempt === 0 && this.options.canRefresh()) continue;
      throw await errorOf(res);
    }
  }
}

/** The OrderChatError of a refused HTTP answer (the `ErrorBody`, or the status alone). */
async function errorOf(res: Response): Promise<OrderChatError> {
  const retry = res.headers.get('retry-after');
  const options = { status: res.status, ...(retry !== null && Number.isFinite(Number(retry)) ? { retryAfter: Number(retry) } : {}) };
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') return new OrderChatError(body.code, typeof body.message === 'string' ? body.message : body.code, options);
  } catch {
    // not JSON: fall through
  }
  return new OrderChatError(res.status >= 500 ? 'internal_error' : 'network', `HTTP ${res.status}: ${text.slice(0, 200)}`, options);
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** A stored notification with the client's `timestamp` (its last change). */
export function storedNotification(item: NotificationItem): Notification {
  return { ...item, timestamp: item.updatedAt };
}
