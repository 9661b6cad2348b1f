// The rooms a client wants to be in and, per room, the highest seq it has delivered.
// After every (re)connect each room is joined again with `sinceSeq` = that seq; while a
// join is under way the live `new-message` events of the room are held back, then merged
// with the join's catch-up, sorted by seq and delivered once each: nothing missed,
// nothing twice, in seq order.

import type { JoinResult, Message, ServerEvents } from './types.js';

type NewMessage = ServerEvents['new-message'];

interface Waiter {
  resolve(result: JoinResult): void;
  reject(err: unknown): void;
}

export interface Room {
  readonly orderId: string;
  /** Highest seq delivered (or, after a first join, the order's last seq then); null before any join. */
  lastSeq: number | null;
  joined: boolean;
  /** Live events held back while a join is under way; null when none is. */
  held: NewMessage[] | null;
  /** `joinOrder` calls waiting for the next join to finish. */
  waiters: Waiter[];
}

export class RoomBook {
  private readonly rooms = new Map<string, Room>();

  constructor(private readonly deliver: (event: NewMessage) => void) {}

  get(orderId: string): Room | undefined {
    return this.rooms.get(orderId);
  }

  /** The room, added if new. */
  want(orderId: string): Room {
    let room = this.rooms.get(orderId);
    if (!room) {
      room = { orderId, lastSeq: null, joined: false, held: null, waiters: [] };
      this.rooms.set(orderId, room);
    }
    return room;
  }

  /** Forget the room; its waiters are rejected with `reason`. */
  drop(orderId: string, reason: unknown): void {
    const room = this.rooms.get(orderId);
    if (!room) return;
    this.rooms.delete(orderId);
    for (const w of room.waiters.splice(0)) w.reject(reason);
  }

  all(): Room[] {
    return [...this.rooms.values()];
  }

  /** The connection dropped: no room is joined any more. */
  disconnected(): void {
    for (const room of this.rooms.values()) {
      room.joined = false;
      room.held = null;
    }
  }

  /** A live `new-message`: held during a join, else delivered unless already seen. */
  live(event: NewMessage): void {
    const room = this.rooms.get(event.orderId);
    if (!room) {
      this.deliver(event);
      return;
    }
    if (room.held) {
      room.held.push(event);
      return;
    }
    // Not joined as far as we know (a join that failed may still have joined on the
    // server): the join that follows catches this message up, in order.
    if (!room.joined) return;
    this.deliverNew(room, [event]);
  }

  /** A join starts: hold live events from now on. */
  joining(room: Room): void {
    room.held = [];
  }

  /**
   * A join finished with `result` (every page of catch-up in `result.messages`): deliver the
   * catch-up and the held events in seq order, each once.
   */
  joined(room: Room, result: JoinResult): void {
    const held = room.held ?? [];
    room.held = null;
    room.joined = true;
    if (room.lastSeq === null) room.lastSeq = result.lastSeq;
    const timestamp = new Date().toISOString();
    const catchUp = result.messages.map((message: Message) => ({ orderId: room.orderId, message, timestamp: message.createdAt || timestamp }));
    this.deliverNew(room, [...catchUp, ...held]);
    for (const w of room.waiters.splice(0)) w.resolve(result);
  }

  /**
   * A join failed. Live events held so far are dropped, not delivered: one of them may lie
   * past messages the join was to catch up, and delivering it would move `lastSeq` past
   * them; the next join's catch-up (from `lastSeq`) brings them all. Waiters are rejected
   * unless the join will be tried again (`keepWaiters`).
   */
  failed(room: Room, err: unknown, options: { keepWaiters?: boolean } = {}): void {
    room.held = null;
    if (!options.keepWaiters) for (const w of room.waiters.splice(0)) w.reject(err);
  }

  private deliverNew(room: Room, events: NewMessage[]): void {
    events.sort((a, b) => a.message.seq - b.message.seq);
    for (const event of events) {
      if (room.lastSeq !== null && event.message.seq <= room.lastSeq) continue;
      room.lastSeq = event.message.seq;
      this.deliver(event);
    }
  }
}
