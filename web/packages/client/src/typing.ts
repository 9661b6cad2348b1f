// Typing throttle: many keystrokes become one `typing-start` per `intervalMs` per order
// (the server expires a start after 5 s, so a long typing spell renews it), and a
// `typing-stop` once the user has been quiet for `quietMs`.

export interface TypingOptions {
  intervalMs?: number;
  quietMs?: number;
}

export class TypingThrottle {
  private readonly lastStart = new Map<string, number>();
  private readonly stopTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly intervalMs: number;
  private readonly quietMs: number;

  constructor(private readonly emit: (event: 'typing-start' | 'typing-stop', orderId: string) => void, options: TypingOptions = {}) {
    this.intervalMs = options.intervalMs ?? 3000;
    this.quietMs = options.quietMs ?? 3000;
  }

  /** A keystroke in `orderId`'s composer. */
  typing(orderId: string): void {
    const now = Date.now();
    const last = this.lastStart.get(orderId);
    if (last === undefined || now - last >= this.intervalMs) {
      this.lastStart.set(orderId, now);
      this.emit('typing-start', orderId);
    }
    clearTimeout(this.stopTimers.get(orderId));
    this.stopTimers.set(orderId, setTimeout(() => this.stop(orderId), this.quietMs));
  }

  /** The user stopped (sent the message, left the composer): `typing-stop` if a start is open. */
  stop(orderId: string): void {
    clearTimeout(this.stopTimers.get(orderId));
    this.stopTimers.delete(orderId);
    if (this.lastStart.delete(orderId)) this.emit('typing-stop', orderId);
  }

  /** Forget everything (the connection dropped: the server forgot too). */
  reset(): void {
    for (const timer of this.stopTimers.values()) clearTimeout(timer);
    this.stopTimers.clear();
    this.lastStart.clear();
  }
}
