// @vitest-environment jsdom
// The README's React example, rendered as it is written (taken from README.md) on a page
// served from the orderchat server's origin, so the hook's default URL is exercised: the
// history shows, the other user's message arrives live, typing and sending work.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createElement, type ComponentType } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';

const srv = useServer();
const WAIT = { timeout: 15_000, interval: 25 };
afterEach(() => cleanup());

let OrderChat: ComponentType<{ token: string; orderId: string }>;

beforeAll(async () => {
  // The page comes from the chat server: `location.origin` is the server's.
  (globalThis as unknown as { jsdom: { reconfigure(o: { url: string }): void } }).jsdom.reconfigure({ url: `${srv.url}/app/` });
  // (jsdom replaces the global URL, so paths are built from the directory, not with URL.)
  const here = import.meta.dirname;
  const readme = readFileSync(join(here, '../README.md'), 'utf8');
  const example = /```tsx\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!example) throw new Error('README.md has no tsx example');
  const dir = join(here, '.readme');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'OrderChat.tsx');
  writeFileSync(file, example);
  OrderChat = ((await import(/* @vite-ignore */ file)) as { OrderChat: typeof OrderChat }).OrderChat;
});

describe('README example', () => {
  it('renders a working chat with the default URL', async () => {
    const { orderId, ct, dt } = await srv.customerAndDriver();
    await srv.send(dt, orderId, 'the driver says hi');
    render(createElement(OrderChat, { token: ct, orderId }));
    await screen.findByText('the driver says hi', undefined, WAIT);
    await screen.findByText(/· online/, undefined, WAIT);

    await srv.send(dt, orderId, 'are you home?');
    await screen.findByText('are you home?', undefined, WAIT);
    await screen.findByText(/mark 2 read/, undefined, WAIT);

    const input = screen.getByPlaceholderText('Message');
    fireEvent.change(input, { target: { value: 'yes, coming' } });
    fireEvent.submit(input.closest('form') as HTMLFormElement);
    await screen.findByText('yes, coming', undefined, WAIT);
    await waitFor(async () => {
      const stored = await srv.history(dt, orderId);
      expect(stored.map((m) => m.message)).toEqual(['the driver says hi', 'are you home?', 'yes, coming']);
    }, WAIT);
    await waitFor(() => expect(screen.queryByText('sending…')).toBeNull(), WAIT);

    fireEvent.click(screen.getByText(/mark 2 read/));
    await waitFor(() => expect(screen.queryByText(/mark \d+ read/)).toBeNull(), WAIT);
  });
});
