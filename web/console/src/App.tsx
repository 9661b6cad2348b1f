// The console's top level: signed out (the token form) or signed in (the console for
// that token). Owns the token for the tab and signing out.
import { useCallback, useMemo, useState } from 'react';
import { Console } from './Console';
import { TokenForm } from './session/TokenForm';
import { forgetToken, isExpired, keepToken, readIdentity, takeInitialToken } from './session/token';

export function App() {
  const [start] = useState(() => {
    const { token: initial, badLink } = takeInitialToken();
    const identity = initial ? readIdentity(initial) : null;
    if (identity && !isExpired(identity) && !badLink) return { token: initial, notice: null };
    forgetToken();
    const notice = badLink
      ? 'The link did not carry an orderchat token. Paste one, or ask for a new link.'
      : identity ? 'This token has expired. Paste a new one to go on.' : null;
    return { token: null, notice };
  });
  const [token, setToken] = useState<string | null>(start.token);
  const [notice, setNotice] = useState<string | null>(start.notice);
  const identity = useMemo(() => (token ? readIdentity(token) : null), [token]);

  const signIn = useCallback((next: string) => {
    keepToken(next);
    setNotice(null);
    setToken(next);
  }, []);
  const signOut = useCallback((why?: string) => {
    forgetToken();
    setNotice(why ?? null);
    setToken(null);
  }, []);

  if (!token || !identity) return <TokenForm onToken={signIn} notice={notice} />;
  return <Console key={token} token={token} me={identity} onSignOut={signOut} />;
}
