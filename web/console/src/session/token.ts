// Where the console's token comes from and where it is kept: the URL fragment
// (`#token=…`, as `orderchat token --console-url` prints it) or a pasted value, kept in
// sessionStorage for this tab only. Also reads the claims the console shows (who you are).

const STORAGE_KEY = 'orderchat.console.token';

export interface Identity {
  userId: string;
  name: string | null;
  role: string;
  /** Expiry in Unix seconds, when the token has one. */
  exp: number | null;
}

/**
 * Takes a `#token=…` from the URL (then removes it, so it is neither bookmarked nor
 * shown), else the token kept for this tab (`token` null when there is none);
 * `badLink` when the URL carried something that is not a token.
 */
export function takeInitialToken(): { token: string | null; badLink: boolean } {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const fromUrl = fragment.get('token');
  if (fromUrl) {
    fragment.delete('token');
    const rest = fragment.toString();
    const clean = window.location.pathname + window.location.search + (rest ? `#${rest}` : '');
    window.history.replaceState(null, '', clean);
    if (readIdentity(fromUrl)) {
      keepToken(fromUrl);
      return { token: fromUrl, badLink: false };
    }
    return { token: sessionStorage.getItem(STORAGE_KEY), badLink: true };
  }
  return { token: sessionStorage.getItem(STORAGE_KEY), badLink: false };
}

export function keepToken(token: string): void {
  sessionStorage.setItem(STORAGE_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * The claims of a JWT, decoded without checking the signature (the server checks it;
 * this only labels the page). Null when the text is not shaped like a JWT.
 */
export function readIdentity(token: string): Identity | null {
  const payload = token.trim().split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const id = claims.sub ?? claims.id ?? claims.userId;
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof claims.role !== 'string') return null;
    return {
      userId: String(id),
      name: typeof claims.name === 'string' ? claims.name : null,
      role: claims.role,
      exp: typeof claims.exp === 'number' ? claims.exp : null,
    };
  } catch {
    return null;
  }
}

/** True once the token's expiry has passed (a token without `exp` never expires here). */
export function isExpired(identity: Identity, nowMs = Date.now()): boolean {
  return identity.exp !== null && identity.exp * 1000 <= nowMs;
}
