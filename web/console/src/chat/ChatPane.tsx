// One open order chat: its header (order, presence, participants, export), the message
// list, who is typing, and the composer (or a note when the order's chat is read-only).
// Marks the chat read while it is on screen.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ChatSummary, OrderChatClient, OrderChatError } from '@orderchat/client';
import { useChat, type ChatMessage } from '@orderchat/client/react';
import { namesFrom } from '../lib/format';
import { isReadOnlyStatus } from '../lib/orderStatus';
import type { Identity } from '../session/token';
import { ChatHeader } from './ChatHeader';
import { Composer } from './Composer';
import { MessageList } from './MessageList';
import { TypingIndicator } from './TypingIndicator';

interface Props {
  token: string;
  client: OrderChatClient;
  orderId: string;
  summary: ChatSummary | null;
  me: Identity;
  jumpTo: number | null;
  onJumped: () => void;
}

export function ChatPane({ token, client, orderId, summary, me, jumpTo, onJumped }: Props) {
  const chat = useChat(token, orderId, { client });
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [dismissed, setDismissed] = useState<OrderChatError | null>(null);
  const readOnly = isReadOnlyStatus(summary?.order?.status);
  const names = useMemo(() => namesFrom(chat.participants, chat.messages), [chat.participants, chat.messages]);
  useMarkReadWhileVisible(chat.messages, me.userId, chat.markAsRead);

  return (
    <section className="chat" aria-label={`Chat of order ${summary?.order?.number ?? orderId}`}>
      <ChatHeader client={client} orderId={orderId} summary={summary} participants={chat.participants}
        onlineUsers={chat.onlineUsers} connected={chat.isConnected} me={me} />
      {chat.error && chat.error !== dismissed && (
        <p className="chat-error" role="alert">
          {chat.error.message}
          <button type="button" className="link-button" onClick={() => setDismissed(chat.error)}>Dismiss</button>
        </p>
      )}
      <MessageList chat={chat} me={me} names={names} readOnly={readOnly} jumpTo={jumpTo} onJumped={onJumped} onReply={setReplyTo} />
      <TypingIndicator userIds={chat.typingUsers} names={names} />
      {readOnly ? (
        <p className="read-only-note" role="status">This order is {summary?.order?.status}: its chat can be read but not written to.</p>
      ) : (
        <Composer orderId={orderId} chat={chat} replyTo={replyTo} names={names} onCancelReply={() => setReplyTo(null)} />
      )}
    </section>
  );
}

/**
 * Moves the read pointer to the newest message of someone else once it is shown and
 * the tab is visible (a dispatcher who looks away does not "see" what arrives meanwhile).
 */
function useMarkReadWhileVisible(messages: ChatMessage[], myId: string, markAsRead: (seq?: number) => Promise<void>) {
  const marked = useRef(0);
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', update);
    return () => document.removeEventListener('visibilitychange', update);
  }, []);
  // Bumped to try again a moment after a mark-read failed (the connection was changing).
  const [attempt, setAttempt] = useState(0);
  let latest = 0;
  for (const m of messages) if (!m.pending && m.seq > latest && m.user?.id !== myId) latest = m.seq;
  useEffect(() => {
    if (!visible || latest <= marked.current) return;
    marked.current = latest;
    let retry: ReturnType<typeof setTimeout> | undefined;
    markAsRead(latest).catch(() => {
      marked.current = 0;
      retry = setTimeout(() => setAttempt((n) => n + 1), 2000);
    });
    return () => clearTimeout(retry);
  }, [visible, latest, markAsRead, attempt]);
}
