// The REST helpers against a real server: every endpoint reached, each answer validated
// against the server's OpenAPI schema it is typed as, and refusals surfaced as
// OrderChatError with the server's code and status.

import { beforeAll, describe, expect, it } from 'vitest';
import { OrderChatError, RestClient, type Message } from '../src/index.js';
import { loadContract, type Contract } from './support/contract.js';
import { token, uid, useServer } from './support/server.js';

const srv = useServer();
let contract: Contract;
beforeAll(async () => { contract = await loadContract(srv.url); });

const rest = (tok: string) => new RestClient({ baseUrl: srv.url, getToken: async () => tok, canRefresh: () => false });

/** The OrderChatError `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<OrderChatError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(OrderChatError);
  return err as OrderChatError;
}

// A 1×1 PNG, so the upload gets a thumbnail too.
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64'));

describe('RestClient', () => {
  it('orders: putOrder, getOrder, updateOrder (role service)', async () => {
    const service = rest(token('platform', 'service'));
    const orderId = uid('order');
    const created = await service.putOrder(orderId, { number: '1042', status: 'created', participants: [{ userId: 'ana', role: 'customer', name: 'Ana' }] });
    contract.assertSchema('Order', created);
    expect(created.participants.map((p) => p.userId)).toEqual(['ana']);
    const read = await rest(token('ana', 'customer')).getOrder(orderId);
    contract.assertSchema('Order', read);
    const updated = await service.updateOrder(orderId, { status: 'picked_up', note: 'on the way' });
    contract.assertSchema('Order', updated);
    expect(updated.status).toBe('picked_up');
  });

  it('messages: send (idempotent by clientId), history by cursor and by page, edit, replies, reactions, delete', async () => {
    const { orderId, customer, ct, dt } = await srv.customerAndDriver();
    const ana = rest(ct);
    const dan = rest(dt);
    const first = await ana.sendMessage({ orderId, message: 'where are you?', clientId: 'c-1' });
    contract.assertSchema('Message', first);
    const again = await ana.sendMessage({ orderId, message: 'where are you?', clientId: 'c-1' });
    expect(again.id).toBe(first.id);
    const reply = await dan.sendMessage({ orderId, message: 'on my way', replyTo: first.id });
    expect(reply.replyPreview?.id).toBe(first.id);
    for (let i = 0; i < 3; i += 1) await dan.sendMessage({ orderId, message: `m${i}` });

    const older = await ana.history(orderId, { before: 5, limit: 2 });
    expect(older.messages.map((m) => m.seq)).toEqual([3, 4]);
    expect(older).toMatchObject({ hasMore: true, nextCursor: 3 });
    older.messages.forEach((m) => contract.assertSchema('Message', m));
    const newer = await ana.history(orderId, { after: 3 });
    expect(newer.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(newer.hasMore).toBe(false);
    const page = await ana.history(orderId, { page: 1, limit: 2 });
    expect(page.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(page.page).toMatchObject({ totalItems: 5, totalPages: 3, currentPage: 1 });
    expect(page.hasMore).toBe(true);

    const edited = await ana.editMessage(first.id, 'where are you now?');
    contract.assertSchema('Message', edited);
    expect(edited.editedAt).not.toBeNull();

    const replies = await ana.replies(first.id);
    expect(replies.messages.map((m) => m.id)).toEqual([reply.id]);

    const reacted = await ana.addReaction(reply.id, '👍');
    contract.assertSchema('Message', reacted);
    expect(reacted.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [customer], mine: true }]);
    const unreacted = await ana.removeReaction(reply.id, '👍');
    expect(unreacted.reactions).toEqual([]);

    const tombstone: Message = await ana.deleteMessage(first.id);
    contract.assertSchema('Message', tombstone);
    expect(tombstone).toMatchObject({ deleted: true, message: '' });
  });

  it('chats: list, read pointer, unread count, search, participants, stats, mute, export', async () => {
    const { orderId, customer, driver, ct, dt } = await srv.customerAndDriver();
    const ana = rest(ct);
    await rest(dt).sendMessage({ orderId, message: 'the parcel is at the gate' });
    await rest(dt).sendMessage({ orderId, message: 'please come down' });
    await ana.sendMessage({ orderId, message: 'coming' });

    const chats = await ana.listChats();
    const row = chats.find((c) => c.orderId === orderId);
    expect(row).toBeDefined();
    chats.forEach((c) => contract.assertSchema('OrderChat', c));
    expect(row?.unreadCount).toBe(2); // never one's own message
    expect(row?.lastMessage?.message).toBe('coming');
    const paged = await ana.listChatsPage({ page: 1, limit: 1 });
    expect(paged.chats).toHaveLength(1);
    contract.assertSchema('PageMeta', paged.page);

    expect(await ana.unreadCount(orderId)).toBe(2);
    const read = await ana.markRead(orderId, 1);
    contract.assertSchema('ReadState', read);
    expect(read).toEqual({ orderId, seq: 1, unreadCount: 1 });
    expect((await ana.markRead(orderId)).unreadCount).toBe(0);

    const found = await ana.search(orderId, 'gate');
    expect(found.map((m) => m.message)).toEqual(['the parcel is at the gate']);
    const everywhere = await ana.searchAll('parcel');
    expect(everywhere.map((m) => m.orderId)).toContain(orderId);

    const people = await ana.participants(orderId);
    people.forEach((p) => contract.assertSchema('ParticipantStatus', p));
    expect(people.map((p) => p.userId).sort()).toEqual([customer, driver].sort());
    expect(people.find((p) => p.userId === customer)?.readSeq).toBe(3);

    const stats = await ana.stats(orderId);
    contract.assertSchema('OrderStats', stats);
    expect(stats.messages.total).toBe(3);

    expect(await ana.mute(orderId)).toEqual({ orderId, muted: true });
    expect(await ana.unmute(orderId)).toEqual({ orderId, muted: false });

    const file = await ana.exportJson(orderId);
    contract.assertSchema('ExportFile', file);
    expect(file.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    const csv = await (await ana.export(orderId, 'csv')).text();
    expect(csv.split('\r\n')[0]).toMatch(/^seq,id,createdAt/);
  });

  it('attachments: upload, send with it, download the file and its thumbnail', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const ana = rest(ct);
    const attachment = await ana.upload(new Blob([PNG]), 'pixel.png', orderId);
    contract.assertSchema('Attachment', attachment);
    expect(attachment).toMatchObject({ fileName: 'pixel.png', contentType: 'image/png', size: PNG.length });
    const message = await ana.sendMessage({ orderId, message: '', attachments: [attachment.id] });
    expect(message.messageType).toBe('file');
    expect(message.attachments.map((a) => a.id)).toEqual([attachment.id]);
    const bytes = new Uint8Array(await (await rest(dt).download(attachment.url)).arrayBuffer());
    expect(bytes).toEqual(PNG);
    expect(attachment.thumbnailUrl).toBeTruthy();
    const thumb = await rest(dt).download(attachment.thumbnailUrl as string);
    expect(thumb.type).toBe('image/jpeg');
  });

  it('notifications: listed with their cursor, marked read by ids and by cursor', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    await rest(dt).sendMessage({ orderId, message: 'first' });
    const ana = rest(ct);
    const page = await waitForNotifications(ana, 1);
    page.notifications.forEach(({ timestamp, ...stored }) => {
      contract.assertSchema('NotificationItem', stored);
      expect(timestamp).toBe(stored.updatedAt);
    });
    const n = page.notifications.find((x) => x.orderId === orderId);
    expect(n).toMatchObject({ type: 'new-message', read: false, count: 1 });
    expect(await ana.markNotificationsRead({ ids: [n?.id as string] })).toEqual({ updated: 1 });
    await rest(dt).sendMessage({ orderId, message: 'second' });
    const next = await waitForNotifications(ana, 1);
    expect(await ana.markNotificationsRead({ before: next.nextCursor as string })).toEqual({ updated: 1 });
    expect((await ana.notifications({ unread: true })).notifications).toEqual([]);
  });

  it('the OpenAPI document', async () => {
    const doc = await rest('').openapi();
    expect(String(doc.openapi)).toMatch(/^3\.1\./);
  });

  it('refusals are OrderChatError with the server code and status', async () => {
    const { orderId, dt } = await srv.customerAndDriver();
    const stranger = rest(token(uid('stranger'), 'customer'));
    expect(await refusal(stranger.history(orderId))).toMatchObject({ code: 'order_not_found', status: 404 });
    expect(await refusal(rest('not-a-jwt').listChats())).toMatchObject({ code: 'unauthenticated', status: 401 });
    const expired = rest(token('ana', 'customer', -3600));
    expect(await refusal(expired.listChats())).toMatchObject({ code: 'unauthenticated', status: 401 });
    const invalid = await refusal(rest(dt).markNotificationsRead({ ids: 'x' } as unknown as { ids: string[] }));
    expect(invalid).toMatchObject({ code: 'invalid_field', status: 400 });
    expect(invalid.message).toMatch(/ids/);
    expect(await refusal(rest(dt).history(orderId, { limit: 100_000 }))).toMatchObject({ code: 'invalid_query', status: 400 });
    expect(await refusal(rest(dt).sendMessage({ orderId, message: '   ' }))).toMatchObject({ code: 'message_empty', status: 400 });
    expect(await refusal(rest(dt).putOrder(orderId, { participants: [] }))).toMatchObject({ code: 'forbidden', status: 403 });
    expect(await refusal(rest(dt).editMessage('no-such-message', 'x'))).toMatchObject({ code: 'message_not_found', status: 404 });
    const offline = new RestClient({ baseUrl: 'http://127.0.0.1:1', getToken: async () => dt, canRefresh: () => false });
    expect(await refusal(offline.listChats())).toMatchObject({ code: 'network' });
  });

  it('a 401 is retried once with a fresh token when the source can give one', async () => {
    const { dt } = await srv.customerAndDriver();
    const asked: boolean[] = [];
    const client = new RestClient({
      baseUrl: srv.url,
      getToken: async (refresh) => { asked.push(refresh); return refresh ? dt : 'stale'; },
      canRefresh: () => true,
    });
    expect(Array.isArray(await client.listChats())).toBe(true);
    expect(asked).toEqual([false, true]);
  });
});

async function waitForNotifications(client: RestClient, unread: number) {
  const end = Date.now() + 15_000;
  for (;;) {
    const page = await client.notifications({ unread: true });
    if (page.notifications.length >= unread) return page;
    if (Date.now() > end) throw new Error(`no ${unread} unread notifications within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
