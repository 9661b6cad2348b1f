// An order's status as a small pill; orders whose chat is read-only look quieter.
import { isReadOnlyStatus } from '../lib/orderStatus';

export function StatusPill({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  return <span className={isReadOnlyStatus(status) ? 'status status-closed' : 'status'}>{status.replace(/_/g, ' ')}</span>;
}
