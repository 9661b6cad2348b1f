// Tokens: a token function is asked again before `exp` and the fresh token goes over
// `refresh-token` on the live connection (it stays up); after `session-expired` the client
// takes a fresh token and reconnects, catching up what it missed. The server runs with no
// clock leeway, so short-lived tokens expire when they say.

import { describe, expect, it } from 'vitest';
import { connected, eventually, token, useServer } from './support/server.js';

const srv = useServer({ ORDERCHAT_JWT_LEEWAY_SECS: '0' });

describe('tokens', () => {
  it('a token function is called again before exp and the connection stays up past the first token', async () => {
    const { orderId, customer } = await srv.customerAndDriver();
    let calls = 0;
    const ana = srv.client({
      token: () => { calls += 1; return token(customer, 'customer', 4); },
      refreshMarginSeconds: 2,
    });
    const states: string[] = [];
    ana.onState((s) => states.push(s));
    let expired = 0;
    ana.on('session-expired', () => { expired += 1; });
    ana.connect();
    await ana.joinOrder(orderId);
    const socketId = ana.socket?.id;
    const firstExp = Date.now() + 4000;
    await eventually(() => calls >= 3 && Date.now() > firstExp + 1500, 'two refreshes and the first token long expired', 20_000);
    expect(states).toEqual(['connecting', 'connected']);
    expect(ana.socket?.id).toBe(socketId);
    expect(expired).toBe(0);
    const message = await ana.sendMessage(orderId, 'still here');
    expect(message.seq).toBe(1);
  });

  it('session-expired: the client gets a fresh token, reconnects and catches up', async () => {
    const { orderId, customer, dt } = await srv.customerAndDriver();
    let expiredSeen = false;
    let calls = 0;
    // Until the session expires the source keeps answering the same short token (a
    // refresh cannot extend it); after that it gives a long one.
    const short = token(customer, 'customer', 3);
    const ana = srv.client({
      token: () => { calls += 1; return expiredSeen ? token(customer, 'customer', 3600) : short; },
    });
    ana.on('session-expired', () => { expiredSeen = true; });
    const seqs: number[] = [];
    ana.on('new-message', (e) => { if (e.orderId === orderId) seqs.push(e.message.seq); });
    ana.connect();
    await ana.joinOrder(orderId);
    await srv.send(dt, orderId, 'before expiry');
    await eventually(() => expiredSeen, 'session-expired arrived', 20_000);
    await srv.send(dt, orderId, 'around the expiry');
    await connected(ana);
    await srv.send(dt, orderId, 'after the reconnect');
    await eventually(() => seqs.length >= 3, 'all three messages', 20_000);
    expect(seqs).toEqual([1, 2, 3]);
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('a fixed token that expired: state "expired", not a reconnect loop', async () => {
    const { customer } = await srv.customerAndDriver();
    const ana = srv.client({ token: token(customer, 'customer', -60) });
    const errors: string[] = [];
    ana.onError((e) => errors.push(e.code));
    ana.connect();
    await eventually(() => ana.state === 'expired', 'the state is expired');
    expect(errors).toContain('unauthenticated');
  });

  it('an expired token from a function at connect time: the client asks for a new one', async () => {
    const { customer } = await srv.customerAndDriver();
    let calls = 0;
    const ana = srv.client({ token: () => { calls += 1; return token(customer, 'customer', calls === 1 ? -60 : 3600); } });
    ana.connect();
    await connected(ana);
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
