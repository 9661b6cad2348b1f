// The outgoing queue under the server's rate limit: sends refused with `rate_limited` wait
// the ack's `retryAfter` and go again (same clientId), so a burst is stored whole, once
// each, in the order it was sent. The REST helpers surface the same refusal as an error.

import { describe, expect, it } from 'vitest';
import { OrderChatError } from '../src/index.js';
import { connected, useServer } from './support/server.js';

const srv = useServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '120', ORDERCHAT_MESSAGE_BURST: '2' });

describe('rate limit', () => {
  it('a burst over the limit is queued, retried after retryAfter, stored once each in order', async () => {
    const { orderId, ct } = await srv.customerAndDriver();
    const ana = srv.client({ token: ct });
    ana.connect();
    await connected(ana);
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const sent = await Promise.all(texts.map((t) => ana.sendMessage(orderId, t)));
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await srv.history(ct, orderId)).map((m) => m.message)).toEqual(texts);
  });

  it('over HTTP the refusal is an OrderChatError rate_limited with retryAfter', async () => {
    const { orderId, dt } = await srv.customerAndDriver();
    const dan = srv.client({ token: dt });
    let refused: OrderChatError | null = null;
    for (let i = 0; i < 10 && !refused; i += 1) {
      refused = await dan.rest.sendMessage({ orderId, message: `m${i}` }).then(() => null, (e: OrderChatError) => e);
    }
    expect(refused).toBeInstanceOf(OrderChatError);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429, retryable: true });
    expect(refused?.retryAfter).toBeGreaterThan(0);
  });
});
