// What an order's status means for its chat. The server decides (its
// ORDERCHAT_ARCHIVE_CLOSED_STATUSES may differ): these defaults only shape the page, and
// a send the server refuses still shows its `order_closed` error.

const READ_ONLY = new Set(['completed', 'cancelled', 'canceled', 'closed']);

/** Whether the chat of an order in this status is read-only by default. */
export function isReadOnlyStatus(status: string | null | undefined): boolean {
  return !!status && READ_ONLY.has(status.toLowerCase());
}
