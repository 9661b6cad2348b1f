// The outgoing queue: a send made while offline waits and is stored once after the
// reconnect; a send whose ack was lost (the connection dropped right after the emit) is
// sent again with the same clientId and stored once.

import { describe, expect, it } from 'vitest';
import { OrderChatError } from '../src/index.js';
import { connected, eventually, useServer } from './support/server.js';

const srv = useServer();

describe('outgoing queue', () => {
  it('a send before the first connection waits, then is stored once', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    const sent = ana.sendMessage(orderId, 'written before connecting');
    expect(ana.pendingSends).toHaveLength(1);
    ana.connect();
    const message = await sent;
    expect(message.message).toBe('written before connecting');
    expect(ana.pendingSends).toEqual([]);
    expect((await srv.history(ct, orderId)).map((m) => m.message)).toEqual(['written before connecting']);
  });

  it('sends made while disconnected resolve after the reconnect, in order, each stored once', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct, reconnectionDelayMs: 1500 });
    ana.connect();
    await ana.joinOrder(orderId);
    ana.socket?.io.engine.close();
    await eventually(() => ana.state !== 'connected', 'the client noticed the drop');
    const sends = [ana.sendMessage(orderId, 'offline 1'), ana.sendMessage(orderId, 'offline 2')];
    expect(ana.pendingSends).toHaveLength(2);
    const [one, two] = await Promise.all(sends);
    expect([one?.seq, two?.seq]).toEqual([1, 2]);
    const stored = await srv.history(ct, orderId);
    expect(stored.map((m) => m.message)).toEqual(['offline 1', 'offline 2']);
  });

  it('an ack lost after the server stored the message: retried with the same clientId, no duplicate', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct, reconnectionDelayMs: 500 });
    ana.connect();
    await connected(ana);
    const socket = ana.socket;
    if (!socket) throw new Error('no socket');
    // Count the send-message emits (the retry must reuse the clientId).
    const emitted: string[] = [];
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'send-message') emitted.push((args[0] as { clientId: string }).clientId);
      return emit(event, ...args);
    }) as typeof socket.emit;

    const sent = ana.sendMessage(orderId, { message: 'answer lost', clientId: 'lost-ack-1' });
    socket.io.engine.close(); // right after the emit: the packet is on its way, the ack will not come back
    const message = await sent;
    expect(message.clientId).toBe('lost-ack-1');
    expect(emitted.length).toBeGreaterThanOrEqual(2);
    expect(new Set(emitted)).toEqual(new Set(['lost-ack-1']));
    const stored = await srv.history(ct, orderId);
    expect(stored.map((m) => m.clientId)).toEqual(['lost-ack-1']);
  });

  it('a refusal that will not change rejects with the code and leaves the queue', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    ana.connect();
    const err = await ana.sendMessage(orderId, '   ').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrderChatError);
    expect(err).toMatchObject({ code: 'message_empty' });
    const other = await ana.sendMessage('no-such-order', 'hello').catch((e: unknown) => e);
    expect(other).toMatchObject({ code: 'order_not_found' });
    expect(ana.pendingSends).toEqual([]);
  });
});
