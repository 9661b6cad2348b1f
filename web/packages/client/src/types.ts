// The wire shapes of orderchat (SPEC §3–§5, docs/API.md). HTTP shapes are aliases of
// the types generated from the server's OpenAPI document (src/generated/openapi.ts), so a
// change on the server breaks the build instead of drifting silently. Socket.IO payloads
// are not in that document: they are written here after docs/API.md "Socket.IO" and
// checked at runtime against real events by test/events.test.ts.

import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];

/** The author of a message (`null` on system messages). */
export type ChatUser = Schemas['MessageUser'];
/** A file attached to a message, as the upload answers it. */
export type Attachment = Schemas['Attachment'];
/** One emoji on a message: `count` users, their `userIds` in reaction order; `mine` only in answers to one caller. */
export type Reaction = Schemas['Reaction'];
/** The quoted message of a reply, as it stands now. */
export type ReplyPreview = Schemas['ReplyPreview'];
export type MessageType = Schemas['MessageType'];
export type SenderType = Schemas['SenderType'];
/** A chat message as every response and event carries it. */
export type Message = Schemas['Message'];
/** An order with its participants, as the platform registered it. */
export type Order = Schemas['Order'];
/** A participant as the platform registered them (inside `Order`). */
export type OrderParticipant = Schemas['Participant'];
/** One row of `GET /api/chat/orders`: the order, its last message, the caller's unread count. */
export type ChatSummary = Schemas['OrderChat'];
/** A participant of a chat with online status and read pointer (`GET …/participants`). */
export type Participant = Schemas['ParticipantStatus'];
/** The caller's read pointer after `mark-read` / `PATCH …/read`. */
export type ReadState = Schemas['ReadState'];
/** Chat statistics of one order (`GET …/stats`). */
export type OrderStats = Schemas['OrderStats'];
/** Whether the caller muted an order. */
export type MuteState = Schemas['MuteState'];
/** The JSON export of a chat. */
export type ExportFile = Schemas['ExportFile'];
/** Page pagination meta. */
export type PageMeta = Schemas['PageMeta'];
/** Body of `PUT /api/orders/:orderId` (role `service`). */
export type PutOrder = Schemas['PutOrder'];
/** Body of `PATCH /api/orders/:orderId` (role `service`). */
export type OrderUpdate = Schemas['OrderUpdate'];
/** A stored notification as `GET /api/chat/notifications` answers it. */
export type NotificationItem = Schemas['NotificationItem'];
/** The refusal body of every failed HTTP request. */
export type ErrorBody = Schemas['ErrorBody'];

/**
 * A notification: a stored one (every field of `NotificationItem`) or a live
 * `notification` event made to look like one. `timestamp` is added by the client
 * (the stored one's `updatedAt`, the event's `timestamp`) so both sort alike.
 */
export type Notification = Omit<NotificationItem, 'type'> & {
  type: 'new-message' | 'order-status' | 'mention' | (string & {});
  timestamp: string;
};

/** Server → client Socket.IO events and their payloads (docs/API.md "Socket.IO"). */
export interface ServerEvents {
  'new-message': { orderId: string; message: Message; timestamp: string };
  'message-updated': { orderId: string; message: Message; timestamp: string };
  'message-deleted': { orderId: string; message: Message; timestamp: string };
  'order-updated': { orderId: string; update: Record<string, unknown>; timestamp: string };
  'user-typing': { userId: string; orderId: string; isTyping: boolean };
  'message-read': { userId: string; orderId: string; seq: number; timestamp: string };
  'user-joined-order': { userId: string; orderId: string; timestamp: string };
  'user-left-order': { userId: string; orderId: string; timestamp: string };
  presence: { userId: string; online: boolean; timestamp: string };
  'unread-count': { orderId: string; unreadCount: number };
  notification: {
    id?: string;
    type: 'new-message' | 'order-status' | (string & {});
    orderId: string;
    title: string;
    message: string;
    timestamp: string;
    messageId?: string;
    seq?: number;
    /** How many messages this notification stands for (coalesced). */
    count: number;
  };
  'session-expired': { reason: string };
}

export type ServerEventName = keyof ServerEvents;

/** Every server event name, for subscribing to the socket. */
export const SERVER_EVENTS: readonly ServerEventName[] = [
  'new-message', 'message-updated', 'message-deleted', 'order-updated', 'user-typing',
  'message-read', 'user-joined-order', 'user-left-order', 'presence', 'unread-count',
  'notification', 'session-expired',
];

/** What a message send carries (socket `send-message` and `POST /api/chat/messages`). */
export interface SendInput {
  message: string;
  messageType?: 'text' | 'file';
  /** Attachment ids from `upload()`, at most 10. */
  attachments?: string[];
  replyTo?: string;
  /** Idempotency key: a second send with the same one answers the first message. Generated when absent. */
  clientId?: string;
}

/** The answer of `join-order-room`. */
export interface JoinResult {
  orderId: string;
  /** The order's latest seq when the join was answered. */
  lastSeq: number;
  /** Catch-up: messages after `sinceSeq` (none on a first join). */
  messages: Message[];
  hasMore: boolean;
  /** User ids online in the order. */
  online: string[];
}
