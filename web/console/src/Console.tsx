// The signed-in console: the top bar (search, notifications, connection, who you are),
// the chat list on the left and the selected chat on the right. Owns which chat is open
// and which message a search result asked to show.
import { useCallback, useEffect, useState } from 'react';
import type { ConnectionState, OrderChatClient } from '@orderchat/client';
import { useOrderChats } from '@orderchat/client/react';
import { ChatList } from './chats/ChatList';
import { ChatPane } from './chat/ChatPane';
import { NotificationBell } from './notifications/NotificationBell';
import { SearchBox } from './search/SearchBox';
import { ConnectionBadge } from './session/ConnectionBadge';
import type { Identity } from './session/token';
import { useConsoleClient } from './session/useConsoleClient';

export interface Jump {
  orderId: string;
  seq: number;
}

interface Props {
  token: string;
  me: Identity;
  onSignOut: (why?: string) => void;
}

export function Console(props: Props) {
  const { client, state } = useConsoleClient(props.token);
  return client ? <ConsoleFor {...props} client={client} state={state} /> : null;
}

function ConsoleFor({ token, me, onSignOut, client, state }: Props & { client: OrderChatClient; state: ConnectionState }) {
  const chats = useOrderChats(token, { client });
  const [selected, setSelected] = useState<string | null>(null);
  const [jump, setJump] = useState<Jump | null>(null);

  useEffect(() => {
    if (state === 'expired') {
      onSignOut('The server did not accept this token: it has expired, or it was signed with another key '
        + '(a token made for another server or data directory). Paste a new token to go on.');
    }
  }, [state, onSignOut]);

  // A listing that failed (the network dropped mid-request) is tried again while connected.
  const { error: listError, refresh: refreshList } = chats;
  useEffect(() => {
    if (!listError || state !== 'connected') return;
    const timer = setTimeout(() => void refreshList(), 2000);
    return () => clearTimeout(timer);
  }, [listError, state, refreshList]);

  // The tab's title carries the unread count, for a dispatcher working in another tab.
  useEffect(() => {
    document.title = chats.totalUnread > 0 ? `(${chats.totalUnread}) orderchat console` : 'orderchat console';
  }, [chats.totalUnread]);

  const open = useCallback((orderId: string, seq?: number) => {
    setSelected(orderId);
    setJump(seq === undefined ? null : { orderId, seq });
  }, []);

  const summary = chats.chats.find((c) => c.orderId === selected) ?? null;
  // While the connection is down the top bar says so; a listing that failed meanwhile is
  // only worth showing when there is no list at all.
  const listErrorShown = state === 'connected' || chats.chats.length === 0 ? listError : null;

  return (
    <div className="console">
      <header className="topbar">
        <span className="brand">orderchat</span>
        <SearchBox client={client} chats={chats.chats} onOpen={open} />
        <div className="topbar-end">
          <ConnectionBadge state={state} />
          <NotificationBell token={token} client={client} openOrderId={selected} onOpen={open} />
          <span className="whoami" title={`User id ${me.userId}`}>
            <span className="whoami-name">{me.name ?? me.userId}</span>
            <span className="whoami-role">{me.role}</span>
          </span>
          <button type="button" className="button" onClick={() => onSignOut()}>Sign out</button>
        </div>
      </header>
      <nav className="sidebar" aria-label="Order chats">
        <ChatList chats={chats.chats} loading={chats.loading} error={listErrorShown} selected={selected} onSelect={open} me={me} />
      </nav>
      <main className="pane">
        {selected ? (
          <ChatPane key={selected} token={token} client={client} orderId={selected} summary={summary} me={me}
            jumpTo={jump?.orderId === selected ? jump.seq : null} onJumped={() => setJump(null)} />
        ) : (
          <div className="pane-empty">
            <h1>Order chats</h1>
            <p>Choose a chat on the left to read and answer it.</p>
          </div>
        )}
      </main>
    </div>
  );
}
