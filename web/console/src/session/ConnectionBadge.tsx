// The connection state, in words (not colour alone), announced politely when it changes.
import type { ConnectionState } from '@orderchat/client';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Online',
  offline: 'Offline — reconnecting',
  expired: 'Session expired',
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span className={`connection connection-${state}`} role="status" data-state={state}>
      <span className="dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
