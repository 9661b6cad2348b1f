// The notifications bell: how many are unread, a dropdown of the latest (stored ones and
// live ones), opening one opens its chat and marks it read, and "Mark all read". The
// notifications of the chat on screen are marked read as they are seen.
import { useEffect, useId, useRef, useState } from 'react';
import type { OrderChatClient } from '@orderchat/client';
import { useNotifications } from '@orderchat/client/react';
import { formatTime } from '../lib/format';
import { BellIcon } from '../lib/icons';

interface Props {
  token: string;
  client: OrderChatClient;
  /** The chat on screen: its notifications are read by looking at it. */
  openOrderId: string | null;
  onOpen: (orderId: string, seq?: number) => void;
}

export function NotificationBell({ token, client, openOrderId, onOpen }: Props) {
  const { notifications, unreadCount, markRead, markAllRead, error } = useNotifications(token, { client });
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === 'Escape' : !root.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [open]);

  const unreadOfOpenChat = notifications.filter((n) => !n.read && n.orderId === openOrderId).map((n) => n.id).join(' ');
  useEffect(() => {
    if (unreadOfOpenChat) markRead(unreadOfOpenChat.split(' ')).catch(() => undefined);
  }, [unreadOfOpenChat, markRead]);

  const label = unreadCount > 0 ? `Notifications, ${unreadCount} unread` : 'Notifications';

  return (
    <div className="bell" ref={root}>
      <button type="button" className="button icon" aria-label={label} aria-expanded={open} aria-controls={open ? panelId : undefined}
        onClick={() => setOpen((v) => !v)}>
        <BellIcon />
        {unreadCount > 0 && <span className="badge" aria-hidden="true">{unreadCount > 99 ? '99+' : unreadCount}</span>}
      </button>
      {open && (
        <div id={panelId} className="popover notifications" role="region" aria-label="Notifications">
          <div className="popover-head">
            <h2>Notifications</h2>
            <button type="button" className="link-button" onClick={() => void markAllRead()} disabled={unreadCount === 0}>
              Mark all read
            </button>
          </div>
          {error && <p className="form-error" role="alert">{error.message}</p>}
          {notifications.length === 0 && <p className="muted popover-note">Nothing new.</p>}
          <ul>
            {notifications.slice(0, 30).map((n) => (
              <li key={n.id}>
                <button type="button" className={n.read ? 'popover-item' : 'popover-item unread'}
                  onClick={() => {
                    setOpen(false);
                    if (!n.read) void markRead([n.id]);
                    onOpen(n.orderId, n.seq ?? undefined);
                  }}>
                  <span className="popover-item-title">
                    {!n.read && <span className="visually-hidden">Unread: </span>}
                    {n.title}{n.count && n.count > 1 ? ` (${n.count})` : ''}
                  </span>
                  <span className="popover-item-text">{n.message}</span>
                  <span className="popover-item-time">{formatTime(n.timestamp)}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
