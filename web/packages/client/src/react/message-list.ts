// The messages useChat shows: stored messages keyed by seq (a newer copy of a message —
// an edit, a deletion, a reaction — replaces the older), and optimistic sends keyed by
// clientId until the stored message with that clientId arrives (by event or ack).
// Immutable: every change returns a new list, so React sees it.

import type { OrderChatError } from '../errors.js';
import type { Message } from '../types.js';

/** A message as useChat shows it: optimistic sends carry `pending` (and `failed` once refused). */
export type ChatMessage = Message & { pending?: boolean; failed?: OrderChatError };

export class MessageList {
  private constructor(
    private readonly bySeq: ReadonlyMap<number, Message>,
    private readonly pendingByClientId: ReadonlyMap<string, ChatMessage>,
  ) {}

  static empty(): MessageList {
    return new MessageList(new Map(), new Map());
  }

  /** Add or replace stored messages; each settles the optimistic send of its clientId. */
  upsert(messages: Message[]): MessageList {
    if (messages.length === 0) return this;
    const bySeq = new Map(this.bySeq);
    const pending = new Map(this.pendingByClientId);
    for (const m of messages) {
      const old = bySeq.get(m.seq);
      // Keep the newer copy: events and answers may cross (an old history page after an edit event).
      if (!old || old.updatedAt <= m.updatedAt) bySeq.set(m.seq, m);
      if (m.clientId) pending.delete(m.clientId);
    }
    return new MessageList(bySeq, pending);
  }

  /** Show an optimistic send (or update it: failed, retried). */
  withPending(message: ChatMessage & { clientId: string }): MessageList {
    if ([...this.bySeq.values()].some((m) => m.clientId === message.clientId)) return this;
    const pending = new Map(this.pendingByClientId);
    pending.set(message.clientId, message);
    return new MessageList(this.bySeq, pending);
  }

  pending(clientId: string): ChatMessage | undefined {
    return this.pendingByClientId.get(clientId);
  }

  /** Ordered by seq, then the optimistic sends in send order. */
  toArray(): ChatMessage[] {
    const stored = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return [...stored, ...this.pendingByClientId.values()];
  }

  get lowestSeq(): number | null {
    let low: number | null = null;
    for (const seq of this.bySeq.keys()) if (low === null || seq < low) low = seq;
    return low;
  }

  get highestSeq(): number | null {
    let high: number | null = null;
    for (const seq of this.bySeq.keys()) if (high === null || seq > high) high = seq;
    return high;
  }

  find(messageId: string): Message | undefined {
    for (const m of this.bySeq.values()) if (m.id === messageId) return m;
    return undefined;
  }
}
