// Reconnect: a client joined to a room loses its connection while another user sends;
// after the reconnect it has every missed message exactly once, in seq order (join with
// sinceSeq), and the live ones after.

import { describe, expect, it } from 'vitest';
import type { OrderChatClient } from '../src/index.js';
import { connected, eventually, useServer } from './support/server.js';

const srv = useServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '100000' });

function seqsOf(client: OrderChatClient, orderId: string): number[] {
  const seqs: number[] = [];
  client.on('new-message', (e) => { if (e.orderId === orderId) seqs.push(e.message.seq); });
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('reconnect', () => {
  it('after the transport drops, missed messages arrive once each, in order, then live ones', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    await srv.send(dt, orderId, 'before the join');
    const ana = srv.client({ token: ct, reconnectionDelayMs: 1500 });
    const seqs = seqsOf(ana, orderId);
    const states: string[] = [];
    ana.onState((s) => states.push(s));
    ana.connect();
    const joined = await ana.joinOrder(orderId);
    expect(joined.lastSeq).toBe(1);
    await srv.send(dt, orderId, 'live 2');
    await eventually(() => seqs.length === 1, 'live message 2 arrived');

    ana.socket?.io.engine.close();
    await eventually(() => ana.state !== 'connected', 'the client noticed the drop');
    for (let i = 3; i <= 7; i += 1) await srv.send(dt, orderId, `missed ${i}`);
    expect(ana.state).not.toBe('connected'); // the messages above were sent while it was away

    await connected(ana);
    await eventually(() => seqs.length >= 6, 'the missed messages arrived');
    await srv.send(dt, orderId, 'live 8');
    await eventually(() => seqs.includes(8), 'live message 8 arrived');
    expect(seqs).toEqual(range(2, 8));
    expect(states).toContain('connecting');
    expect(ana.lastSeq(orderId)).toBe(8);
  });

  it('a server restart: catch-up from the seq seen last, nothing twice, several rooms', async () => {
    const one = await srv.customerAndDriver();
    const two = await srv.customerAndDriver();
    await srv.order(two.orderId, { [one.customer]: 'customer', [two.driver]: 'driver' });
    const ana = srv.client({ token: one.ct });
    const seqs1 = seqsOf(ana, one.orderId);
    const seqs2 = seqsOf(ana, two.orderId);
    ana.connect();
    await Promise.all([ana.joinOrder(one.orderId), ana.joinOrder(two.orderId)]);
    await srv.send(one.dt, one.orderId, 'one 1');
    await srv.send(two.dt, two.orderId, 'two 1');
    await eventually(() => seqs1.length === 1 && seqs2.length === 1, 'both first messages arrived');

    await srv.raw.restart();
    for (let i = 2; i <= 4; i += 1) {
      await srv.send(one.dt, one.orderId, `one ${i}`);
      await srv.send(two.dt, two.orderId, `two ${i}`);
    }
    await connected(ana, 30_000);
    await eventually(() => seqs1.length >= 4 && seqs2.length >= 4, 'both rooms caught up', 30_000);
    await srv.send(one.dt, one.orderId, 'one 5');
    await eventually(() => seqs1.includes(5), 'live after the restart');
    expect(seqs1).toEqual(range(1, 5));
    expect(seqs2).toEqual(range(1, 4));
  });

  it('more missed messages than one catch-up page (200): joins again until it has them all', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct, reconnectionDelayMs: 3000 });
    const seqs = seqsOf(ana, orderId);
    ana.connect();
    await ana.joinOrder(orderId);
    ana.socket?.io.engine.close();
    await eventually(() => ana.state !== 'connected', 'the client noticed the drop');
    // 230 messages over HTTP from the driver (one connection each would hit rate limits).
    const sends = [];
    for (let i = 1; i <= 230; i += 1) sends.push(srv.send(dt, orderId, `m${i}`));
    await Promise.all(sends);
    await connected(ana, 30_000);
    await eventually(() => seqs.length >= 230, 'all 230 arrived', 30_000);
    expect(seqs).toEqual(range(1, 230));
  });
});
