// The scrolling history of one chat: loads older pages at the top (on scroll or with
// the button), keeps the reader's place when they arrive, follows new messages when the
// reader is at the bottom, shows "Seen by …" and jumps to a message a search found.
import { useEffect, useLayoutEffect, useRef, useState, type UIEvent } from 'react';
import type { useChat, ChatMessage } from '@orderchat/client/react';
import { listNames, type Names } from '../lib/format';
import type { Identity } from '../session/token';
import { MessageItem } from './MessageItem';

type Chat = ReturnType<typeof useChat>;

interface Props {
  chat: Chat;
  me: Identity;
  names: Names;
  /** The order is closed: no reacting, replying or editing. */
  readOnly: boolean;
  jumpTo: number | null;
  onJumped: () => void;
  onReply: (message: ChatMessage) => void;
}

/** How close to the bottom (px) still counts as "reading the newest messages". */
const BOTTOM_SLACK = 80;

export function MessageList({ chat, me, names, readOnly, jumpTo, onJumped, onReply }: Props) {
  const { messages, hasOlder, loadingOlder, loadOlder } = chat;
  const box = useRef<HTMLDivElement>(null);
  const before = useRef({ firstKey: '', lastKey: '', height: 0, top: 0, atBottom: true });
  const [highlight, setHighlight] = useState<number | null>(null);

  const keyOf = (m: ChatMessage | undefined) => (m ? (m.clientId ?? m.id) : '');
  const firstKey = keyOf(messages[0]);
  const last = messages[messages.length - 1];
  const lastKey = keyOf(last);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const prev = before.current;
    if (prev.firstKey && firstKey !== prev.firstKey && lastKey === prev.lastKey) {
      el.scrollTop = prev.top + (el.scrollHeight - prev.height); // older page above: stay in place
    } else if (prev.atBottom || !prev.lastKey || (lastKey !== prev.lastKey && last?.user?.id === me.userId)) {
      el.scrollTop = el.scrollHeight; // following the newest (also when catch-up lands above a pending send)
    }
    before.current = { firstKey, lastKey, height: el.scrollHeight, top: el.scrollTop, atBottom: isAtBottom(el) };
  }, [firstKey, lastKey, last, me.userId, messages.length]);

  // Content that grows below the reader (a "Seen by" line, a thumbnail, reactions, the
  // history arriving) keeps a reader who was at the bottom there.
  const content = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = box.current;
    const list = content.current;
    if (!el || !list || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => {
      if (before.current.atBottom) el.scrollTop = el.scrollHeight;
      before.current = { ...before.current, height: el.scrollHeight, top: el.scrollTop };
    });
    observer.observe(list);
    return () => observer.disconnect();
  }, []);

  const onScroll = (event: UIEvent<HTMLDivElement>) => {
    const el = event.currentTarget;
    before.current = { ...before.current, height: el.scrollHeight, top: el.scrollTop, atBottom: isAtBottom(el) };
    if (el.scrollTop < 40 && hasOlder && !loadingOlder) void loadOlder();
  };

  // A search result: page back until the message is there, then show and mark it.
  useEffect(() => {
    if (jumpTo === null || chat.loading) return; // the first page is not in yet
    const target = box.current?.querySelector(`[data-seq="${jumpTo}"]`);
    if (target) {
      target.scrollIntoView({ block: 'center' });
      before.current = { ...before.current, atBottom: box.current ? isAtBottom(box.current) : false };
      setHighlight(jumpTo);
      onJumped();
    } else if (hasOlder && !loadingOlder && (messages[0]?.seq ?? 0) > jumpTo) {
      void loadOlder();
    } else if (!hasOlder && !loadingOlder) {
      onJumped();
    }
  }, [jumpTo, chat.loading, messages, hasOlder, loadingOlder, loadOlder, onJumped]);

  const seen = seenBy(messages, chat.readBy, me.userId, names);

  return (
    <div className="messages" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Messages"
      aria-busy={loadingOlder || undefined}>
      <div className="messages-top">
        {hasOlder ? (
          <button type="button" className="button small" onClick={() => void loadOlder()} disabled={loadingOlder}>
            {loadingOlder ? 'Loading…' : 'Load older messages'}
          </button>
        ) : (
          messages.length > 0 && <span className="muted">Start of the conversation</span>
        )}
      </div>
      {messages.length === 0 && !hasOlder && <p className="muted messages-empty">No messages yet. Say hello.</p>}
      <ol className="message-list" ref={content}>
        {messages.map((m) => (
          <MessageItem key={keyOf(m)} message={m} chat={chat} me={me} names={names} readOnly={readOnly} onReply={onReply}
            highlighted={highlight !== null && m.seq === highlight}
            seenBy={seen && seen.seq === m.seq && !m.pending ? seen.who : null} />
        ))}
      </ol>
    </div>
  );
}

function isAtBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
}

/**
 * The newest message someone else has read, and who has read it ("Seen by Ana"),
 * leaving out the reader and the message's author.
 */
function seenBy(messages: ChatMessage[], readBy: Record<string, number>, myId: string, names: Names) {
  const others = Object.entries(readBy).filter(([userId]) => userId !== myId);
  const highest = Math.max(0, ...others.map(([, seq]) => seq));
  let target: ChatMessage | undefined;
  for (const m of messages) if (!m.pending && m.messageType !== 'system' && m.seq <= highest) target = m;
  if (!target) return null;
  const author = target.user?.id;
  const who = others.filter(([userId, seq]) => seq >= target.seq && userId !== author).map(([userId]) => names(userId));
  return who.length > 0 ? { seq: target.seq, who: listNames(who) } : null;
}
