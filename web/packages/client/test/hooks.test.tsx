// @vitest-environment jsdom
// The React hooks against a real server (renderHook from @testing-library/react in jsdom):
// live messages, optimistic sends reconciled with the ack, older pages, typing, presence,
// read pointers, unread counts, the chat list and notifications.

import { act, cleanup, renderHook, waitFor } from '@testing-library/react';
import { StrictMode, createElement, type ReactNode } from 'react';
import { File as NodeFile } from 'node:buffer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrderChatClient } from '../src/index.js';
import { useChat, useNotifications, useOrderChats } from '../src/react/index.js';
import { token, uid, useServer } from './support/server.js';

const srv = useServer();
const WAIT = { timeout: 15_000, interval: 25 };

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** A plain client for "the other user", closed after the file by useServer. */
function other(tok: string): OrderChatClient {
  const c = srv.client({ token: tok });
  c.connect();
  return c;
}

describe('useChat', () => {
  it('shows history, live messages of another user, and an optimistic send replaced by the stored message', async () => {
    const { orderId, customer, ct, dt } = await srv.customerAndDriver();
    await srv.send(dt, orderId, 'hello from the driver');
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.isConnected && !result.current.loading).toBe(true), WAIT);
    expect(result.current.messages.map((m) => m.message)).toEqual(['hello from the driver']);
    expect(result.current.userId).toBe(customer);

    await srv.send(dt, orderId, 'are you there?');
    await waitFor(() => expect(result.current.messages.map((m) => m.seq)).toEqual([1, 2]), WAIT);

    let sending!: Promise<unknown>;
    act(() => { sending = result.current.sendMessage('yes, coming down'); });
    // Shown at once, before the server answered.
    const optimistic = result.current.messages.at(-1);
    expect(optimistic).toMatchObject({ message: 'yes, coming down', pending: true, seq: 0 });
    await act(async () => { await sending; });
    await waitFor(() => expect(result.current.messages.map((m) => [m.seq, m.message, Boolean(m.pending)])).toEqual([
      [1, 'hello from the driver', false],
      [2, 'are you there?', false],
      [3, 'yes, coming down', false],
    ]), WAIT);
    expect(result.current.messages[2]?.clientId).toBe(optimistic?.clientId);
  });

  it('after the connection drops, messages sent meanwhile appear once each; a send made offline is delivered', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const mine = srv.client({ token: ct, reconnectionDelayMs: 1500 });
    mine.connect();
    const { result } = renderHook(() => useChat(ct, orderId, { client: mine }));
    await waitFor(() => expect(result.current.isConnected && !result.current.loading).toBe(true), WAIT);
    await srv.send(dt, orderId, 'one');
    await waitFor(() => expect(result.current.messages).toHaveLength(1), WAIT);

    act(() => mine.socket?.io.engine.close());
    await waitFor(() => expect(result.current.isConnected).toBe(false), WAIT);
    await srv.send(dt, orderId, 'two');
    await srv.send(dt, orderId, 'three');
    let offline!: Promise<unknown>;
    act(() => { offline = result.current.sendMessage('written offline'); });
    expect(result.current.messages.at(-1)).toMatchObject({ pending: true, message: 'written offline' });

    await act(async () => { await offline; });
    await waitFor(() => expect(result.current.messages.map((m) => [m.seq, m.message])).toEqual([
      [1, 'one'], [2, 'two'], [3, 'three'], [4, 'written offline'],
    ]), WAIT);
    expect(result.current.isConnected).toBe(true);
    await srv.send(dt, orderId, 'five');
    await waitFor(() => expect(result.current.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]), WAIT);
  });

  it('under StrictMode (effects run twice) messages still come once each', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const wrapper = ({ children }: { children: ReactNode }) => createElement(StrictMode, null, children);
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }), { wrapper });
    await waitFor(() => expect(result.current.isConnected && !result.current.loading).toBe(true), WAIT);
    await srv.send(dt, orderId, 'a');
    await act(async () => { await result.current.sendMessage('b'); });
    await srv.send(dt, orderId, 'c');
    await waitFor(() => expect(result.current.messages.map((m) => m.message)).toEqual(['a', 'b', 'c']), WAIT);
  });

  it('a send refused for good stays shown as failed with the error', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    await act(async () => { await result.current.sendMessage('   ').catch(() => undefined); });
    expect(result.current.messages).toHaveLength(1);
    expect(result.current.messages[0]?.failed?.code).toBe('message_empty');
    expect(result.current.error?.code).toBe('message_empty');
  });

  it('retry: a send refused while the order was closed goes through with the same clientId once it reopens', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const platform = srv.client({ token: token('platform', 'service') }).rest;
    await platform.updateOrder(orderId, { status: 'cancelled' });
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    const before = result.current.messages.length; // the status change's system message
    await act(async () => { await result.current.sendMessage('can I still change the address?').catch(() => undefined); });
    const failed = result.current.messages.at(-1);
    expect(failed).toMatchObject({ pending: true, failed: { code: 'order_closed' } });

    await platform.updateOrder(orderId, { status: 'created' });
    await act(async () => { await result.current.retry(failed?.clientId as string); });
    await waitFor(() => {
      const mine = result.current.messages.filter((m) => m.message === 'can I still change the address?');
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ clientId: failed?.clientId });
      expect(mine[0]?.pending).toBeUndefined();
    }, WAIT);
    expect(result.current.messages.length).toBeGreaterThan(before);
  });

  it('an order the user may not see: error order_not_found, not loading forever', async () => {
    const { orderId } = await srv.customerAndDriver();
    const stranger = token(uid('stranger'), 'customer'); // made once: a new token each render would be a new connection
    const { result } = renderHook(() => useChat(stranger, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.error?.code).toBe('order_not_found'), WAIT);
    expect(result.current.loading).toBe(false);
    expect(result.current.messages).toEqual([]);
  });

  it('loadOlder pages back until the first message', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    for (let i = 1; i <= 12; i += 1) await srv.send(dt, orderId, `m${i}`);
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url, pageSize: 5 }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    expect(result.current.messages.map((m) => m.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(result.current.hasOlder).toBe(true);
    await act(() => result.current.loadOlder());
    expect(result.current.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await act(() => result.current.loadOlder());
    expect(result.current.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(result.current.hasOlder).toBe(false);
  });

  it('typingUsers, onlineUsers and readBy follow the other user', async () => {
    const { orderId, driver, ct, dt } = await srv.customerAndDriver();
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    expect(result.current.onlineUsers).not.toContain(driver);

    const dan = other(dt);
    await dan.joinOrder(orderId);
    await waitFor(() => expect(result.current.onlineUsers).toContain(driver), WAIT);

    dan.typing(orderId);
    await waitFor(() => expect(result.current.typingUsers).toEqual([driver]), WAIT);
    dan.stopTyping(orderId);
    await waitFor(() => expect(result.current.typingUsers).toEqual([]), WAIT);

    await act(async () => { await result.current.sendMessage('hi'); });
    await dan.markRead(orderId);
    await waitFor(() => expect(result.current.readBy[driver]).toBe(1), WAIT);
    // Own typing is never shown.
    act(() => result.current.notifyTyping());
    expect(result.current.typingUsers).toEqual([]);

    dan.close();
    await waitFor(() => expect(result.current.onlineUsers).not.toContain(driver), WAIT);
  });

  it('unreadCount excludes own messages and drops after markAsRead', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    await act(async () => {
      await result.current.sendMessage('mine 1');
      await result.current.sendMessage('mine 2');
    });
    await srv.send(dt, orderId, 'theirs 1');
    await srv.send(dt, orderId, 'theirs 2');
    await waitFor(() => expect(result.current.messages).toHaveLength(4), WAIT);
    await waitFor(() => expect(result.current.unreadCount).toBe(2), WAIT);
    await act(() => result.current.markAsRead());
    expect(result.current.unreadCount).toBe(0);
    await act(async () => { await result.current.sendMessage('mine 3'); });
    expect(await srv.client({ token: ct }).rest.unreadCount(orderId)).toBe(0);
    expect(result.current.unreadCount).toBe(0);
  });

  it('sends files: uploaded first, then attached to the message', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    // jsdom's FormData and File are not what Node's fetch sends (a browser's are): use the
    // platform's own, as a browser page would have them.
    const nativeFormData = (await new Request('http://x/', { method: 'POST', body: new URLSearchParams('a=1') }).formData()).constructor;
    vi.stubGlobal('FormData', nativeFormData);
    const file = new NodeFile(['delivery note\n'], 'note.txt', { type: 'text/plain' }) as unknown as File;
    let sent!: { attachments: { id: string; fileName: string; url: string }[] };
    await act(async () => { sent = await result.current.sendMessage('see the note', { files: [file] }); });
    expect(sent.attachments.map((a) => a.fileName)).toEqual(['note.txt']);
    await waitFor(() => expect(result.current.messages.map((m) => [m.messageType, m.attachments.length, Boolean(m.pending)])).toEqual([['file', 1, false]]), WAIT);
    const blob = await srv.client({ token: dt }).rest.download(sent.attachments[0]?.url as string);
    expect(await blob.text()).toBe('delivery note\n');
  });

  it('edit, delete, react (toggle) and search', async () => {
    const { orderId, customer, ct, dt } = await srv.customerAndDriver();
    const sent = await srv.send(dt, orderId, 'the parcel is at the gate');
    const { result } = renderHook(() => useChat(ct, orderId, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    await act(() => result.current.react(sent.id, '👍'));
    expect(result.current.messages[0]?.reactions).toMatchObject([{ emoji: '👍', userIds: [customer] }]);
    await act(() => result.current.react(sent.id, '👍'));
    await waitFor(() => expect(result.current.messages[0]?.reactions).toEqual([]), WAIT);

    let mine!: { id: string };
    await act(async () => { mine = await result.current.sendMessage('typo'); });
    await act(async () => { await result.current.editMessage(mine.id, 'fixed'); });
    expect(result.current.messages.find((m) => m.id === mine.id)).toMatchObject({ message: 'fixed' });
    await act(() => result.current.deleteMessage(mine.id));
    expect(result.current.messages.find((m) => m.id === mine.id)).toMatchObject({ deleted: true, message: '' });

    const found = await result.current.searchMessages('gate');
    expect(found.map((m) => m.id)).toEqual([sent.id]);
  });
});

describe('useOrderChats', () => {
  it('lists the chats with unread counts that follow live', async () => {
    const customer = uid('cust');
    const ct = token(customer, 'customer');
    const a = await srv.customerAndDriver();
    const orderA = uid('order');
    const orderB = uid('order');
    await srv.order(orderA, { [customer]: 'customer', [a.driver]: 'driver' });
    await srv.order(orderB, { [customer]: 'customer', [a.driver]: 'driver' });
    await srv.send(a.dt, orderA, 'a1');
    const { result } = renderHook(() => useOrderChats(ct, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    expect(result.current.chats.map((c) => [c.orderId, c.unreadCount])).toEqual([[orderA, 1], [orderB, 0]]);

    await srv.send(a.dt, orderB, 'b1');
    await srv.send(a.dt, orderB, 'b2');
    await waitFor(() => expect(result.current.chats.map((c) => [c.orderId, c.unreadCount])).toEqual([[orderB, 2], [orderA, 1]]), WAIT);
    expect(result.current.totalUnread).toBe(3);
    expect(result.current.chats[0]?.lastMessage?.message).toBe('b2');

    await srv.client({ token: ct }).rest.markRead(orderB);
    await waitFor(() => expect(result.current.totalUnread).toBe(1), WAIT);
  });

  it('a listing read before a live unread count does not undo it', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    await srv.send(dt, orderId, 'unread for now');
    // The chat list's requests are held once answered, until the test lets them go.
    let hold: { answered: () => void; release: Promise<void> } | null = null;
    const slowFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const held = hold;
      if (held && String(input).includes('/api/chat/orders?')) {
        held.answered();
        await held.release;
      }
      return response;
    };
    const client = srv.client({ token: ct, fetch: slowFetch, transports: ['websocket'] });
    client.connect();
    const { result } = renderHook(() => useOrderChats(ct, { url: srv.url, client, pollMs: 0 }));
    await waitFor(() => expect(result.current.chats.find((c) => c.orderId === orderId)?.unreadCount).toBe(1), WAIT);

    let release!: () => void;
    let answered!: () => void;
    const wasAnswered = new Promise<void>((resolve) => { answered = resolve; });
    hold = { answered, release: new Promise<void>((resolve) => { release = resolve; }) };
    let refreshing!: Promise<void>;
    act(() => { refreshing = result.current.refresh(); });
    await wasAnswered; // the server has answered "1 unread"; the answer waits here
    hold = null;
    await srv.client({ token: ct }).rest.markRead(orderId); // another tab reads the chat
    await waitFor(() => expect(result.current.totalUnread).toBe(0), WAIT);
    await act(async () => { release(); await refreshing; });
    expect(result.current.chats.find((c) => c.orderId === orderId)?.unreadCount).toBe(0);
  });

  it('a message in a joined room becomes its row\'s last message without reading the list again', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    await srv.send(dt, orderId, 'first');
    let listings = 0;
    const countingFetch: typeof fetch = (input, init) => {
      if (String(input).includes('/api/chat/orders?')) listings += 1;
      return fetch(input, init);
    };
    const client = srv.client({ token: ct, fetch: countingFetch });
    client.connect();
    await client.joinOrder(orderId);
    const { result } = renderHook(() => useOrderChats(ct, { url: srv.url, client, pollMs: 0 }));
    await waitFor(() => expect(result.current.chats[0]?.lastMessage?.message).toBe('first'), WAIT);
    const before = listings;

    await client.sendMessage(orderId, 'second, from me');
    await waitFor(() => expect(result.current.chats[0]?.lastMessage?.message).toBe('second, from me'), WAIT);
    expect(listings).toBe(before);
  });

  it('a dispatcher (staff, not a participant) sees every order and its activity', async () => {
    const { orderId, dt } = await srv.customerAndDriver();
    const dispatcher = token(uid('disp'), 'dispatcher');
    const { result } = renderHook(() => useOrderChats(dispatcher, { url: srv.url, pollMs: 0 }));
    await waitFor(() => expect(result.current.chats.some((c) => c.orderId === orderId)).toBe(true), WAIT);
    await srv.send(dt, orderId, 'for the dispatcher');
    await waitFor(() => {
      const row = result.current.chats.find((c) => c.orderId === orderId);
      expect(row?.lastMessage?.message).toBe('for the dispatcher');
      expect(row?.unreadCount).toBe(1);
    }, WAIT);
    expect(result.current.chats[0]?.orderId).toBe(orderId);
  });
});

describe('useNotifications', () => {
  it('shows a notification for an order the user has not opened; markRead clears it', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const { result } = renderHook(() => useNotifications(ct, { url: srv.url }));
    await waitFor(() => expect(result.current.loading).toBe(false), WAIT);
    expect(result.current.notifications).toEqual([]);
    await srv.send(dt, orderId, 'your parcel is here');
    await waitFor(() => expect(result.current.unreadCount).toBe(1), WAIT);
    const n = result.current.notifications[0];
    expect(n).toMatchObject({ type: 'new-message', orderId, message: 'your parcel is here', read: false });
    await act(() => result.current.markRead([n?.id as string]));
    expect(result.current.unreadCount).toBe(0);
    const stored = await srv.client({ token: ct }).rest.notifications({ unread: true });
    expect(stored.notifications).toEqual([]);

    await srv.send(dt, orderId, 'hello again');
    await waitFor(() => expect(result.current.unreadCount).toBe(1), WAIT);
    await act(() => result.current.markAllRead());
    expect(result.current.unreadCount).toBe(0);
    expect((await srv.client({ token: ct }).rest.notifications({ unread: true })).notifications).toEqual([]);
  });
});
