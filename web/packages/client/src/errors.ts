// OrderChatError: the one error type of the package. Every failed REST call, refused
// Socket.IO ack and network failure becomes one, carrying the server's stable `code`
// (docs/API.md "Envelope"), the HTTP status where there is one, and `retryAfter`.

/** The server's error codes, plus the client's own `network`, `timeout`, `closed`. */
export type ErrorCode =
  | 'invalid_json' | 'invalid_field' | 'message_empty' | 'message_too_long'
  | 'message_invalid_characters' | 'invalid_emoji' | 'invalid_query' | 'invalid_request'
  | 'unauthenticated' | 'forbidden' | 'order_not_found' | 'message_not_found' | 'not_found'
  | 'attachment_not_found' | 'no_thumbnail' | 'method_not_allowed' | 'request_timeout'
  | 'conflict' | 'attachment_taken' | 'order_closed' | 'message_deleted' | 'message_archived'
  | 'too_many_reactions' | 'payload_too_large' | 'file_too_large' | 'unsupported_media_type'
  | 'unsupported_file_type' | 'range_not_satisfiable' | 'too_many_uploads'
  | 'upload_quota_exceeded' | 'rate_limited' | 'internal_error' | 'unavailable'
  /** The server could not be reached, or the connection dropped before an answer. */
  | 'network'
  /** No answer within the ack timeout. */
  | 'timeout'
  /** The client was closed while the operation waited. */
  | 'closed'
  | (string & {});

export interface OrderChatErrorOptions {
  status?: number;
  retryAfter?: number;
  cause?: unknown;
}

export class OrderChatError extends Error {
  readonly code: ErrorCode;
  /** HTTP status, when the error came from an HTTP answer. */
  readonly status?: number;
  /** Seconds to wait before retrying (`Retry-After`, or the ack's `retryAfter`). */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, options: OrderChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrderChatError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }

  /** Whether the same request may succeed later without change (the outgoing queue retries these). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

const RETRYABLE = new Set<string>(['network', 'timeout', 'unavailable', 'rate_limited', 'internal_error', 'request_timeout', 'unauthenticated']);

/** `err` as an OrderChatError (unknown throwables become `network`). */
export function toOrderChatError(err: unknown): OrderChatError {
  if (err instanceof OrderChatError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OrderChatError('network', message, { cause: err });
}

/** The error of a refused Socket.IO ack `{ ok: false, error, code, retryAfter? }`. */
export function ackError(ack: { error?: unknown; code?: unknown; retryAfter?: unknown }): OrderChatError {
  const code = typeof ack.code === 'string' ? ack.code : 'internal_error';
  const message = typeof ack.error === 'string' ? ack.error : code;
  const options: OrderChatErrorOptions = {};
  if (typeof ack.retryAfter === 'number') options.retryAfter = ack.retryAfter;
  return new OrderChatError(code, message, options);
}
