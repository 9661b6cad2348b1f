// One message in the list: own messages on the right, others on the left, system
// messages centred; the quoted message it replies to, its attachments and reactions,
// "edited"/"deleted" marks, its sending state, its actions, and editing it in place.
import { useState } from 'react';
import type { useChat, ChatMessage } from '@orderchat/client/react';
import { formatTime, type Names } from '../lib/format';
import type { Identity } from '../session/token';
import { AttachmentView } from './AttachmentView';
import { MessageActions } from './MessageActions';
import { MessageEditor } from './MessageEditor';
import { ReactionChips, ReactionPicker } from './Reactions';

type Chat = ReturnType<typeof useChat>;

interface Props {
  message: ChatMessage;
  chat: Chat;
  me: Identity;
  names: Names;
  readOnly: boolean;
  highlighted: boolean;
  seenBy: string | null;
  onReply: (message: ChatMessage) => void;
}

export function MessageItem({ message: m, chat, me, names, readOnly, highlighted, seenBy, onReply }: Props) {
  const [picking, setPicking] = useState(false);
  const [editing, setEditing] = useState(false);

  if (m.messageType === 'system' || m.senderType === 'system') {
    return (
      <li className="message system" data-seq={m.seq}>
        <p className="message-text">{m.message}</p>
        <time className="message-time" dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
      </li>
    );
  }

  const mine = m.user?.id === me.userId;
  const author = mine ? 'You' : (m.user?.name ?? (m.user ? names(m.user.id) : 'Unknown'));
  const quote = m.replyPreview;
  const live = !m.deleted && !m.pending;
  const classes = ['message', mine ? 'mine' : 'theirs', highlighted ? 'highlighted' : '', m.pending ? 'pending' : '',
    m.failed ? 'failed' : ''].filter(Boolean).join(' ');

  return (
    <li className={classes} data-seq={m.pending ? undefined : m.seq} data-message-id={m.id}>
      <div className="bubble">
        <div className="message-meta">
          <span className="message-author">{author}</span>
          {!mine && m.user?.role && <span className="message-role">{m.user.role}</span>}
          <time className="message-time" dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
          {live && !editing && (
            <MessageActions mine={mine} readOnly={readOnly} whose={mine ? 'your message' : author} picking={picking}
              onTogglePicker={() => setPicking((v) => !v)} onReply={() => onReply(m)} onEdit={() => setEditing(true)}
              onDelete={() => void chat.deleteMessage(m.id).catch(() => undefined)} />
          )}
        </div>
        {quote && (
          <blockquote className="quote">
            <span className="quote-author">{quote.user?.name ?? 'System'}</span>
            <span className="quote-text">{quote.deleted ? 'Message deleted' : quote.message}</span>
          </blockquote>
        )}
        {m.deleted ? (
          <p className="message-text deleted">Message deleted</p>
        ) : editing ? (
          <MessageEditor text={m.message} onSave={(text) => chat.editMessage(m.id, text)} onDone={() => setEditing(false)} />
        ) : (
          m.message && <p className="message-text">{m.message}</p>
        )}
        {!m.deleted && m.attachments.length > 0 && (
          <ul className="attachments" aria-label="Attachments">
            {m.attachments.map((a) => <li key={a.id}><AttachmentView client={chat.client} attachment={a} /></li>)}
          </ul>
        )}
        {live && <ReactionChips message={m} myId={me.userId} names={names} disabled={readOnly} onToggle={(emoji) => void chat.react(m.id, emoji).catch(() => undefined)} />}
        {live && picking && !readOnly && (
          <ReactionPicker onPick={(emoji) => { setPicking(false); void chat.react(m.id, emoji).catch(() => undefined); }} />
        )}
        {(m.editedAt || m.pending || m.failed) && !m.deleted && (
          <div className="message-foot">
            {m.editedAt && <span className="mark">edited</span>}
            {m.pending && !m.failed && <span className="mark">Sending…</span>}
            {m.failed && (
              <span className="mark error" role="alert">
                Not sent: {m.failed.message}
                {m.clientId && (
                  <button type="button" className="link-button" onClick={() => void chat.retry(m.clientId as string).catch(() => undefined)}>
                    Retry
                  </button>
                )}
              </span>
            )}
          </div>
        )}
      </div>
      {seenBy && <p className="seen-by" data-testid="seen-by">Seen by {seenBy}</p>}
    </li>
  );
}
