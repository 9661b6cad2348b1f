// An order's status as a small pill; closed orders (read-only chats) look quieter.
const CLOSED = new Set(['completed', 'cancelled', 'canceled', 'closed', 'archived']);

export function StatusPill({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  const closed = CLOSED.has(status.toLowerCase());
  return <span className={closed ? 'status status-closed' : 'status'}>{status}</span>;
}
