// RoomBook, the seq bookkeeping behind "nothing missed, nothing twice", on its own (pure
// logic, no socket): the cases a real server rarely produces on demand.

import { describe, expect, it } from 'vitest';
import { RoomBook } from '../src/rooms.js';
import type { JoinResult, Message, ServerEvents } from '../src/types.js';

const msg = (seq: number): Message => ({
  id: `m${seq}`, _id: `m${seq}`, orderId: 'o1', seq, user: null, message: `m${seq}`, messageType: 'text', senderType: 'user',
  attachments: [], replyTo: null, replyPreview: null, clientId: null, createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z', editedAt: null, deleted: false, reactions: [],
});
const ev = (seq: number): ServerEvents['new-message'] => ({ orderId: 'o1', message: msg(seq), timestamp: '' });
const result = (lastSeq: number, seqs: number[]): JoinResult => ({ orderId: 'o1', lastSeq, messages: seqs.map(msg), hasMore: false, online: [] });

function book() {
  const delivered: number[] = [];
  return { rooms: new RoomBook((e) => delivered.push(e.message.seq)), delivered };
}

describe('RoomBook', () => {
  it('a first join delivers only live messages after its lastSeq', () => {
    const { rooms, delivered } = book();
    const room = rooms.want('o1');
    rooms.joining(room);
    rooms.live(ev(6)); // arrived before the ack
    rooms.joined(room, result(5, []));
    rooms.live(ev(7));
    expect(delivered).toEqual([6, 7]);
  });

  it('a re-join merges the catch-up with live events that came before the ack: in order, once', () => {
    const { rooms, delivered } = book();
    const room = rooms.want('o1');
    rooms.joining(room);
    rooms.joined(room, result(2, []));
    rooms.disconnected();
    rooms.joining(room);
    rooms.live(ev(6));
    rooms.live(ev(5));
    rooms.joined(room, result(5, [3, 4, 5]));
    rooms.live(ev(6)); // a repeat is dropped
    rooms.live(ev(7));
    expect(delivered).toEqual([3, 4, 5, 6, 7]);
  });

  it('a failed join leaves held and stray live messages to the next join, so none is skipped', () => {
    const { rooms, delivered } = book();
    const room = rooms.want('o1');
    rooms.joining(room);
    rooms.joined(room, result(2, []));
    rooms.disconnected();
    rooms.joining(room);
    rooms.live(ev(5));
    rooms.failed(room, new Error('timeout'), { keepWaiters: true });
    rooms.live(ev(6)); // the failed join had joined on the server after all
    expect(delivered).toEqual([]);
    rooms.joining(room);
    rooms.joined(room, result(6, [3, 4, 5, 6]));
    expect(delivered).toEqual([3, 4, 5, 6]);
  });

  it('waiters: resolved by the join, rejected by a failure unless it will be retried, and by drop', async () => {
    const { rooms } = book();
    const room = rooms.want('o1');
    const first = new Promise((resolve, reject) => room.waiters.push({ resolve, reject }));
    rooms.joining(room);
    rooms.failed(room, new Error('timeout'), { keepWaiters: true });
    rooms.joining(room);
    rooms.joined(room, result(1, []));
    await expect(first).resolves.toMatchObject({ lastSeq: 1 });
    const second = new Promise((resolve, reject) => room.waiters.push({ resolve, reject }));
    rooms.drop('o1', new Error('left'));
    await expect(second).rejects.toThrow('left');
  });
});
