// The left column: the caller's order chats, most recent activity first, each with its
// order number and status, the last message and an unread badge. Live through useOrderChats.
import type { ChatSummary, OrderChatError } from '@orderchat/client';
import { formatTime, previewOf } from '../lib/format';
import type { Identity } from '../session/token';
import { StatusPill } from './StatusPill';

interface Props {
  chats: ChatSummary[];
  loading: boolean;
  error: OrderChatError | null;
  selected: string | null;
  onSelect: (orderId: string) => void;
  me: Identity;
}

export function ChatList({ chats, loading, error, selected, onSelect, me }: Props) {
  return (
    <>
      <h2 className="sidebar-title">Chats</h2>
      {error && <p className="form-error" role="alert">Could not load the chats: {error.message}</p>}
      {loading && chats.length === 0 && <p className="muted sidebar-note">Loading…</p>}
      {!loading && chats.length === 0 && !error && <p className="muted sidebar-note">No order chats yet.</p>}
      <ul className="chat-list">
        {chats.map((chat) => {
          const last = chat.lastMessage;
          const author = last?.user ? (last.user.id === me.userId ? 'You' : (last.user.name ?? last.user.id)) : null;
          const unread = chat.unreadCount;
          return (
            <li key={chat.orderId}>
              <button
                type="button"
                className="chat-item"
                aria-current={chat.orderId === selected ? 'true' : undefined}
                data-order-id={chat.orderId}
                onClick={() => onSelect(chat.orderId)}
              >
                <span className="chat-item-top">
                  <span className="chat-item-number">{chat.order?.number ?? chat.orderId}</span>
                  <StatusPill status={chat.order?.status} />
                  <span className="chat-item-time">{formatTime(chat.lastActivityAt ?? last?.createdAt)}</span>
                </span>
                <span className="chat-item-bottom">
                  <span className="chat-item-preview">
                    {author && <span className="chat-item-author">{author}: </span>}
                    {previewOf(last)}
                  </span>
                  {unread > 0 && (
                    <span className="badge" data-testid="unread-badge" aria-label={`${unread} unread`}>
                      {unread > 99 ? '99+' : unread}
                    </span>
                  )}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}
