// The sign-in screen: a labelled field to paste a JWT (for example one printed by
// `orderchat token`), checked for shape and expiry before the console opens with it.
import { useId, useState, type FormEvent } from 'react';
import { isExpired, readIdentity } from './token';

export function TokenForm({ onToken, notice }: { onToken: (token: string) => void; notice?: string | null }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const fieldId = useId();
  const hintId = useId();
  const errorId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = value.trim();
    const identity = readIdentity(token);
    if (!identity) return setError('This does not look like an orderchat token (a JWT with a user id and a role).');
    if (isExpired(identity)) return setError('This token has expired. Ask for a new one.');
    setError(null);
    onToken(token);
  };

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby={`${fieldId}-title`}>
        <h1 id={`${fieldId}-title`}>orderchat console</h1>
        {notice && <p className="signin-notice" role="status">{notice}</p>}
        <label htmlFor={fieldId}>Access token</label>
        <textarea
          id={fieldId}
          value={value}
          rows={4}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={error ? `${hintId} ${errorId}` : hintId}
          aria-invalid={error ? true : undefined}
          onChange={(e) => setValue(e.target.value)}
        />
        <p id={hintId} className="hint">
          Paste a token, or open the link printed by <code>orderchat token --console-url</code>.
          It is kept in this browser tab only.
        </p>
        {error && <p id={errorId} className="form-error" role="alert">{error}</p>}
        <button type="submit" className="button primary">Open console</button>
      </form>
    </main>
  );
}
