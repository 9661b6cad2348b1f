// One attachment of a message: an image shows its thumbnail, anything else a file link.
// Downloads need the Authorization header, so the bytes are fetched by the client and
// shown or saved through object URLs (allowed by the server's CSP as blob:).
import { useEffect, useState } from 'react';
import type { Attachment, OrderChatClient } from '@orderchat/client';
import { saveBlob } from '../lib/download';
import { formatSize } from '../lib/format';
import { PaperclipIcon } from '../lib/icons';

export function AttachmentView({ client, attachment: a }: { client: OrderChatClient | null; attachment: Attachment }) {
  const thumb = useObjectUrl(client, a.thumbnailUrl ?? null);
  const [error, setError] = useState<string | null>(null);

  const download = async () => {
    if (!client) return;
    setError(null);
    try {
      saveBlob(await client.rest.download(a.url), a.fileName);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div className="attachment">
      {a.thumbnailUrl && (
        <button type="button" className="thumb" onClick={() => void download()} aria-label={`Download ${a.fileName}`}>
          {thumb ? <img src={thumb} alt={a.fileName} /> : <span className="thumb-placeholder">Loading image…</span>}
        </button>
      )}
      <button type="button" className="file-link" onClick={() => void download()}>
        <PaperclipIcon /> {a.fileName} <span className="muted">({formatSize(a.size)})</span>
      </button>
      {error && <span className="form-error" role="alert">Download failed: {error}</span>}
    </div>
  );
}

/** An object URL of a protected file, revoked when the view goes away or the URL changes. */
function useObjectUrl(client: OrderChatClient | null, url: string | null): string | null {
  const [objectUrl, setObjectUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!client || !url) return;
    let made: string | null = null;
    let cancelled = false;
    client.rest.download(url).then(
      (blob) => {
        if (cancelled) return;
        made = URL.createObjectURL(blob);
        setObjectUrl(made);
      },
      () => { /* the file link below still works */ },
    );
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [client, url]);
  return objectUrl;
}
