// Writing a message: a labelled textarea (Enter sends, Shift+Enter starts a new line),
// files to attach, the message being replied to, and the send button. Sending is
// optimistic: the text leaves the box at once and waits in the client's queue while offline.
import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { useChat, ChatMessage } from '@orderchat/client/react';
import { formatSize, previewOf, type Names } from '../lib/format';
import { PaperclipIcon } from '../lib/icons';

type Chat = ReturnType<typeof useChat>;

interface Props {
  orderId: string;
  chat: Chat;
  replyTo: ChatMessage | null;
  names: Names;
  onCancelReply: () => void;
}

export function Composer({ orderId, chat, replyTo, names, onCancelReply }: Props) {
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const ids = { field: useId(), files: useId(), hint: useId() };

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (!text.trim() && files.length === 0) return;
    const opts = { ...(replyTo ? { replyTo: replyTo.id } : {}), ...(files.length ? { files } : {}) };
    setError(null);
    chat.sendMessage(text, opts).catch((err: unknown) => {
      setError(err instanceof Error ? err.message : String(err));
    });
    setText('');
    setFiles([]);
    onCancelReply();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  return (
    <form className="composer" onSubmit={send} data-order-id={orderId}>
      {replyTo && (
        <div className="composer-reply">
          <span>Replying to <strong>{replyTo.user ? names(replyTo.user.id) : 'System'}</strong>: {previewOf(replyTo)}</span>
          <button type="button" className="link-button" onClick={onCancelReply}>Cancel reply</button>
        </div>
      )}
      {files.length > 0 && (
        <ul className="composer-files" aria-label="Files to send">
          {files.map((f, i) => (
            <li key={`${f.name}-${i}`}>
              {f.name} <span className="muted">({formatSize(f.size)})</span>
              <button type="button" className="link-button" aria-label={`Remove ${f.name}`}
                onClick={() => setFiles(files.filter((_, j) => j !== i))}>Remove</button>
            </li>
          ))}
        </ul>
      )}
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="composer-row">
        <label htmlFor={ids.field} className="visually-hidden">Message</label>
        <textarea
          id={ids.field}
          className="composer-input"
          value={text}
          rows={2}
          placeholder="Write a message…"
          aria-describedby={ids.hint}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value) chat.notifyTyping();
          }}
          onKeyDown={onKeyDown}
        />
        {/* Opened by the Attach button; hidden from the page and from screen readers. */}
        <input ref={fileInput} id={ids.files} type="file" multiple hidden onChange={(e) => {
            setFiles([...files, ...Array.from(e.target.files ?? [])]);
            e.target.value = '';
          }} />
        <button type="button" className="button with-icon" onClick={() => fileInput.current?.click()}><PaperclipIcon /> Attach</button>
        <button type="submit" className="button primary">Send</button>
      </div>
      <p id={ids.hint} className="hint composer-hint">Enter sends, Shift+Enter adds a new line.</p>
    </form>
  );
}
