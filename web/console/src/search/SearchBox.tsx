// Full-text search across every chat the user may see: a labelled search field in the
// top bar and a results panel; choosing a result opens its chat at that message.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { ChatSummary, Message, OrderChatClient } from '@orderchat/client';
import { formatTime, previewOf } from '../lib/format';

interface Props {
  client: OrderChatClient;
  chats: ChatSummary[];
  onOpen: (orderId: string, seq?: number) => void;
}

export function SearchBox({ client, chats, onOpen }: Props) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Message[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { field: useId(), panel: useId() };
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (results === null) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === 'Escape' : !root.current?.contains(event.target as Node)) {
        setResults(null);
      }
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [results]);

  const search = async (event: FormEvent) => {
    event.preventDefault();
    const q = query.trim();
    if (!q) return setResults(null);
    setBusy(true);
    setError(null);
    try {
      setResults(await client.rest.searchAll(q));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setResults([]);
    } finally {
      setBusy(false);
    }
  };

  const numberOf = (orderId: string) => chats.find((c) => c.orderId === orderId)?.order?.number ?? orderId;

  return (
    <div className="search" ref={root}>
      <form role="search" onSubmit={search}>
        <label htmlFor={ids.field} className="visually-hidden">Search messages</label>
        <input id={ids.field} type="search" value={query} placeholder="Search messages" autoComplete="off"
          aria-controls={results !== null ? ids.panel : undefined} onChange={(e) => setQuery(e.target.value)} />
        <button type="submit" className="button small" disabled={busy}>{busy ? 'Searching…' : 'Search'}</button>
      </form>
      {results !== null && (
        <div id={ids.panel} className="popover search-results" role="region" aria-label="Search results">
          {error && <p className="form-error" role="alert">Search failed: {error}</p>}
          {!error && results.length === 0 && <p className="muted popover-note">No messages match “{query}”.</p>}
          <ul>
            {results.map((m) => (
              <li key={m.id}>
                <button type="button" className="popover-item" onClick={() => { setResults(null); onOpen(m.orderId, m.seq); }}>
                  <span className="popover-item-title">Order {numberOf(m.orderId)} · {m.user?.name ?? 'System'}</span>
                  <span className="popover-item-text">{previewOf(m)}</span>
                  <span className="popover-item-time">{formatTime(m.createdAt)}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
