// The head of an open chat: order number and status, the participants with who is
// online now, and the export of the whole chat as JSON or CSV.
import { useState } from 'react';
import type { ChatSummary, OrderChatClient, Participant } from '@orderchat/client';
import { StatusPill } from '../chats/StatusPill';
import { saveBlob } from '../lib/download';
import type { Identity } from '../session/token';

interface Props {
  client: OrderChatClient;
  orderId: string;
  summary: ChatSummary | null;
  participants: Participant[];
  onlineUsers: string[];
  /** While our own connection is down, nobody's presence is known. */
  connected: boolean;
  me: Identity;
}

export function ChatHeader({ client, orderId, summary, participants, onlineUsers, connected, me }: Props) {
  const online = new Set(onlineUsers);
  const [exportError, setExportError] = useState<string | null>(null);

  const exportAs = async (format: 'json' | 'csv') => {
    setExportError(null);
    try {
      const blob = await client.rest.export(orderId, format);
      saveBlob(blob, `order-${orderId.replace(/[^A-Za-z0-9._-]/g, '_')}.${format}`);
    } catch (err) {
      setExportError(`Export failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  return (
    <header className="chat-header">
      <div className="chat-title">
        <h1>Order {summary?.order?.number ?? orderId}</h1>
        <StatusPill status={summary?.order?.status} />
      </div>
      <ul className="people" aria-label="Participants">
        {participants.map((p) => {
          const isOnline = connected && (p.userId === me.userId || online.has(p.userId));
          return (
            <li key={p.userId} className={isOnline ? 'person online' : 'person'} data-user-id={p.userId}>
              <span className="dot" aria-hidden="true" />
              <span className="person-name">{p.userId === me.userId ? `${p.name ?? p.userId} (you)` : (p.name ?? p.userId)}</span>
              <span className="person-role">{p.role}</span>
              <span className="visually-hidden">{isOnline ? ', online' : ', offline'}</span>
            </li>
          );
        })}
      </ul>
      <div className="chat-actions" role="group" aria-label="Export chat">
        <button type="button" className="button small" onClick={() => void exportAs('json')}>Export JSON</button>
        <button type="button" className="button small" onClick={() => void exportAs('csv')}>Export CSV</button>
      </div>
      {exportError && <p className="form-error" role="alert">{exportError}</p>}
    </header>
  );
}
