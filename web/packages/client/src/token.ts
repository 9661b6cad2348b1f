// Tokens: where the client gets its JWT (a string, or a function asked again for a fresh
// one), what the token says (user id and expiry, read without verifying), and when to
// refresh it (a margin before `exp`).

/** A fixed token, or a function called whenever a fresh token is needed. */
export type TokenSource = string | (() => string | Promise<string>);

export interface TokenClaims {
  /** The user id: `sub`, else `id`, else `userId`, as the server reads it. */
  userId: string | null;
  role: string | null;
  /** Expiry, Unix seconds; null when the token has none. */
  exp: number | null;
}

/** The claims of a JWT, decoded without checking the signature (the server checks it). */
export function decodeToken(token: string): TokenClaims {
  const part = token.split('.')[1];
  if (!part) return { userId: null, role: null, exp: null };
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const idOf = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);
    return {
      userId: idOf(claims.sub) ?? idOf(claims.id) ?? idOf(claims.userId),
      role: typeof claims.role === 'string' ? claims.role : null,
      exp: typeof claims.exp === 'number' ? claims.exp : null,
    };
  } catch {
    return { userId: null, role: null, exp: null };
  }
}

/**
 * Holds the current token and asks the source for a new one when it is about to
 * expire (`marginSeconds` before `exp`, at most half of its remaining life) or when told
 * the old one was refused.
 */
export class TokenKeeper {
  private token: string | null = null;
  private claims: TokenClaims = { userId: null, role: null, exp: null };
  private receivedAt = 0;
  private pending: Promise<string> | null = null;

  constructor(private readonly source: TokenSource, private readonly marginSeconds: number) {
    if (typeof source === 'string') this.accept(source);
  }

  /** Whether the source can give another token. */
  get renewable(): boolean {
    return typeof this.source === 'function';
  }

  get userId(): string | null {
    return this.claims.userId;
  }

  get role(): string | null {
    return this.claims.role;
  }

  get exp(): number | null {
    return this.claims.exp;
  }

  /** The token to use now: the kept one unless it is due for refresh. */
  async current(): Promise<string> {
    if (this.token !== null && (!this.renewable || this.msUntilRefresh() > 0)) return this.token;
    return this.fresh();
  }

  /** A new token from the source (the kept one for a fixed token). Concurrent calls share one request. */
  fresh(): Promise<string> {
    if (typeof this.source === 'string') return Promise.resolve(this.source);
    if (!this.pending) {
      const source = this.source;
      this.pending = (async () => {
        try {
          const token = await source();
          this.accept(token);
          return token;
        } finally {
          this.pending = null;
        }
      })();
    }
    return this.pending;
  }

  /** Milliseconds until the kept token should be refreshed; Infinity without `exp`. */
  msUntilRefresh(): number {
    if (this.claims.exp === null) return Infinity;
    const expMs = this.claims.exp * 1000;
    const life = Math.max(0, expMs - this.receivedAt);
    const margin = Math.min(this.marginSeconds * 1000, life / 2);
    return expMs - margin - Date.now();
  }

  private accept(token: string): void {
    this.token = token;
    this.claims = decodeToken(token);
    this.receivedAt = Date.now();
  }
}
