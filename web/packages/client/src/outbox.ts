// The outgoing queue: sends wait here while the client is offline and are sent one after
// another (so they are stored in the order they were made) once it is connected. A send
// that failed for a passing reason (connection lost, timeout, rate limit, restart) is sent
// again with the same clientId, which the server answers with the first message if it
// had stored it: a lost ack never makes a duplicate.

import type { Message, SendInput } from './types.js';

export interface Outgoing {
  readonly orderId: string;
  readonly payload: SendInput & { orderId: string; clientId: string };
  resolve(message: Message): void;
  reject(err: unknown): void;
  attempts: number;
}

export class Outbox {
  private readonly queue: Outgoing[] = [];

  add(item: Outgoing): void {
    this.queue.push(item);
  }

  peek(): Outgoing | undefined {
    return this.queue[0];
  }

  /** Remove `item` (acked or refused for good). */
  done(item: Outgoing): void {
    const i = this.queue.indexOf(item);
    if (i >= 0) this.queue.splice(i, 1);
  }

  get size(): number {
    return this.queue.length;
  }

  /** The clientIds waiting, in send order. */
  pending(): string[] {
    return this.queue.map((item) => item.payload.clientId);
  }

  /** Reject everything (the client was closed). */
  clear(reason: unknown): void {
    for (const item of this.queue.splice(0)) item.reject(reason);
  }
}
