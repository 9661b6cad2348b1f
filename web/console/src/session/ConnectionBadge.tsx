// The connection state, in words (not colour alone), announced politely when it changes.
// socket.io reports a dropped connection as "connecting" while it retries, so a drop after
// the first connection reads "Reconnecting"; `data-state` keeps the client's own state.
import { useEffect, useState } from 'react';
import type { ConnectionState } from '@orderchat/client';

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  const [wasConnected, setWasConnected] = useState(false);
  useEffect(() => {
    if (state === 'connected') setWasConnected(true);
  }, [state]);
  const lost = state !== 'connected' && wasConnected;
  const label = state === 'connected' ? 'Online'
    : state === 'expired' ? 'Session expired'
    : lost ? 'Offline — reconnecting…'
    : state === 'connecting' ? 'Connecting…' : 'Offline';
  return (
    <span className={`connection connection-${lost ? 'lost' : state}`} role="status" data-state={state}>
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
