import { describe, expect, it } from 'vitest';
import { connected, useServer } from './support/server.js';

const srv = useServer();

describe('smoke', () => {
  it('joins, sends and receives', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    const a = srv.client({ token: ct });
    a.connect();
    const got: number[] = [];
    a.on('new-message', (e) => got.push(e.message.seq));
    await a.joinOrder(orderId);
    await srv.send(dt, orderId, 'hi');
    const m = await a.sendMessage(orderId, 'hello');
    expect(m.seq).toBe(2);
    await connected(a);
    expect(got).toEqual([1, 2]);
  });
});
