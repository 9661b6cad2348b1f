// Socket.IO behaviour of the client against a real server: the event payloads carry the
// OpenAPI schemas (the runtime drift check of the hand-written event types), typing is
// throttled, unread counts never count one's own messages, mark-read, reactions.

import { beforeAll, describe, expect, it } from 'vitest';
import type { OrderChatClient, ServerEvents } from '../src/index.js';
import { loadContract, type Contract } from './support/contract.js';
import { connected, eventually, sleep, useServer } from './support/server.js';

const srv = useServer();
let contract: Contract;
beforeAll(async () => { contract = await loadContract(srv.url); });

function record<E extends keyof ServerEvents>(client: OrderChatClient, event: E): ServerEvents[E][] {
  const list: ServerEvents[E][] = [];
  client.on(event, (p) => list.push(p));
  return list;
}

describe('realtime', () => {
  it('event payloads match docs/API.md and carry messages valid against the OpenAPI Message schema', async () => {
    const { orderId, customer, driver, ct, dt } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    const dan = srv.client({ token: dt });
    const news = record(ana, 'new-message');
    const updates = record(ana, 'message-updated');
    const deletions = record(ana, 'message-deleted');
    const reads = record(ana, 'message-read');
    const joins = record(ana, 'user-joined-order');
    ana.connect();
    dan.connect();
    const joined = await ana.joinOrder(orderId);
    expect(Object.keys(joined).sort()).toEqual(['hasMore', 'lastSeq', 'messages', 'online', 'orderId']);
    expect(joined.online).toContain(customer);
    await dan.joinOrder(orderId);
    await eventually(() => joins.some((j) => j.userId === driver), 'user-joined-order for the driver');
    expect(Object.keys(joins[0] ?? {}).sort()).toEqual(['orderId', 'timestamp', 'userId']);

    const sent = await dan.sendMessage(orderId, 'hello');
    contract.assertSchema('Message', sent);
    await eventually(() => news.length === 1, 'new-message');
    const event = news[0];
    expect(Object.keys(event ?? {}).sort()).toEqual(['message', 'orderId', 'timestamp']);
    contract.assertSchema('Message', event?.message);
    expect(event?.message.id).toBe(sent.id);

    const reacted = await dan.addReaction(sent.id, '🎉');
    contract.assertSchema('Message', reacted);
    await eventually(() => updates.length === 1, 'message-updated');
    contract.assertSchema('Message', updates[0]?.message);
    expect(updates[0]?.message.reactions[0]).toEqual({ emoji: '🎉', count: 1, userIds: [driver] }); // no `mine` in room events
    await dan.removeReaction(sent.id, '🎉');

    const state = await dan.markRead(orderId);
    contract.assertSchema('ReadState', state);
    await eventually(() => reads.length === 1, 'message-read');
    expect(reads[0]).toMatchObject({ userId: driver, orderId, seq: 1 });

    await dan.rest.deleteMessage(sent.id);
    await eventually(() => deletions.length === 1, 'message-deleted');
    contract.assertSchema('Message', deletions[0]?.message);
    expect(deletions[0]?.message.deleted).toBe(true);
  });

  it('many typing() calls become few typing-start events at the other user, and a stop', async () => {
    const { orderId, customer, ct, dt } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    const dan = srv.client({ token: dt });
    const typing = record(dan, 'user-typing');
    ana.connect();
    dan.connect();
    await Promise.all([ana.joinOrder(orderId), dan.joinOrder(orderId)]);
    for (let i = 0; i < 40; i += 1) {
      ana.typing(orderId); // keystrokes over about a second
      await sleep(25);
    }
    ana.stopTyping(orderId);
    await eventually(() => typing.some((t) => !t.isTyping), 'the typing stop arrived');
    const starts = typing.filter((t) => t.isTyping);
    expect(starts.length).toBe(1);
    expect(starts[0]).toEqual({ userId: customer, orderId, isTyping: true });
  });

  it('unread counts never count one\'s own messages; markRead clears them', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    const dan = srv.client({ token: dt });
    const anaCounts = record(ana, 'unread-count');
    ana.connect();
    dan.connect();
    await Promise.all([connected(ana), connected(dan)]);
    for (let i = 0; i < 3; i += 1) await ana.sendMessage(orderId, `from ana ${i}`);
    for (let i = 0; i < 2; i += 1) await dan.sendMessage(orderId, `from dan ${i}`);
    await eventually(() => anaCounts.at(-1)?.unreadCount === 2, 'ana hears an unread count of 2');
    expect(anaCounts.every((c) => c.unreadCount <= 2)).toBe(true);
    expect(await ana.rest.unreadCount(orderId)).toBe(2);
    expect(await dan.rest.unreadCount(orderId)).toBe(3);
    const read = await ana.markRead(orderId);
    expect(read).toEqual({ orderId, seq: 5, unreadCount: 0 });
    await ana.sendMessage(orderId, 'one more of mine');
    expect(await ana.rest.unreadCount(orderId)).toBe(0);
    const partly = await dan.markRead(orderId, 4);
    expect(partly.unreadCount).toBe(1); // above seq 4: 5 is his own, 6 is ana's
  });

  it('an outsider cannot join: joinOrder rejects with order_not_found', async () => {
    const { orderId } = await srv.customerAndDriver();
    const other = await srv.customerAndDriver();
    const eve = srv.client({ token: other.ct });
    eve.connect();
    await expect(eve.joinOrder(orderId)).rejects.toMatchObject({ code: 'order_not_found' });
  });
});
