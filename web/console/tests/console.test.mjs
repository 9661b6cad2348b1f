// The console in a real browser against the real server: a customer (Ana) and a
// dispatcher (Dina) chat in two browser windows. Dina sees the chat and its unread
// badge, Ana sees "typing" and "Seen by", Enter sends and Shift+Enter does not, older
// history loads on scrolling up, and when Ana's network drops and comes back no message
// is lost or doubled. Saves screenshots to web/console/screenshots/, runs axe-core,
// and fails on browser errors or a server panic.
//
// Needs the console built (`npm run build`), Chromium at /usr/bin/chromium (or
// CHROMIUM_PATH) and the server binary (ORDERCHAT_BIN, default target/debug/orderchat).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, launch, openWindow, screenshotSideBySide, seriousA11yViolations, setOffline, SHOTS, TIMEOUT } from './browser.mjs';
import { pngPicture } from './png.mjs';
import { startServer, token } from './server.mjs';

const ANA = { id: 'ana', role: 'customer', name: 'Ana' };
const DINA = { id: 'dina', role: 'dispatcher', name: 'Dina' };
const BOB = { id: 'bob', role: 'customer', name: 'Bob' };
const ORDER = 'order-1042';
const OTHER = 'order-1043';
/** More than one page of history (the console loads 50 at a time). */
const HISTORY = 60;

let srv;
let browser;
const tok = (p) => token(p.id, p.role, p.name);

before(async () => {
  // Seeding sends many messages at once: the per-user rate limit is not under test here.
  srv = await startServer({ ORDERCHAT_MESSAGE_RATE_PER_MINUTE: '100000', ORDERCHAT_MESSAGE_BURST: '10000' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

/** The message bubbles of the open chat whose text is exactly `text`. */
const bubbles = (page, text) => page.locator('.message-list .message-text').filter({ hasText: new RegExp(`^${escape(text)}$`) });
/** The list item of the message whose text is exactly `text`. */
const messageItem = (page, text) => page.locator('.message-list > li.message', {
  has: page.locator('.message-text').filter({ hasText: new RegExp(`^${escape(text)}$`) }),
});
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const chatItem = (page, orderId) => page.locator(`.chat-item[data-order-id="${orderId}"]`);
const composer = (page) => page.getByRole('textbox', { name: 'Message' });

test('a customer and a dispatcher chat in real time through the console', { timeout: 240_000 }, async () => {
  const people = (order) => order.map((p) => ({ userId: p.id, role: p.role, name: p.name }));
  await srv.order(ORDER, { number: '1042', status: 'in_transit', participants: people([ANA, DINA]) });
  await srv.order(OTHER, { number: '1043', status: 'created', participants: people([BOB, DINA]) });
  for (let n = 1; n <= HISTORY; n += 1) {
    await srv.send(tok(n % 2 ? ANA : DINA), ORDER, `history ${n}`);
  }
  await srv.send(tok(BOB), OTHER, 'Is my parcel on time?');
  await srv.markRead(tok(ANA), ORDER);
  await srv.markRead(tok(DINA), ORDER);

  // --- Both open the console with the link `orderchat token --console-url` prints.
  const ana = await openWindow(browser, 'Ana (customer)', `${srv.url}/console/#token=${tok(ANA)}`);
  const dina = await openWindow(browser, 'Dina (dispatcher)', `${srv.url}/console/#token=${tok(DINA)}`);
  for (const p of [ana, dina]) {
    assert.ok(!p.page.url().includes('token='), `${p.label}: the token is removed from the URL (${p.page.url()})`);
    await p.page.locator('.connection[data-state="connected"]').waitFor();
  }
  await dina.page.locator('.whoami', { hasText: 'Dina' }).getByText('dispatcher').waitFor();

  // --- Dina sees both chats and reads Bob's; 1042 has nothing unread yet.
  await chatItem(dina.page, ORDER).waitFor();
  await chatItem(dina.page, OTHER).getByTestId('unread-badge').waitFor();
  await chatItem(dina.page, OTHER).click();
  await bubbles(dina.page, 'Is my parcel on time?').waitFor();
  await chatItem(dina.page, OTHER).getByTestId('unread-badge').waitFor({ state: 'detached' });
  assert.equal(await chatItem(dina.page, ORDER).getByTestId('unread-badge').count(), 0, 'no unread badge before Ana writes');

  // --- Ana opens her chat and sends with Enter: Dina's badge on 1042 rises, with the preview.
  await chatItem(ana.page, ORDER).click();
  await bubbles(ana.page, `history ${HISTORY}`).waitFor();
  await composer(ana.page).fill('Hello, where is my driver?');
  await composer(ana.page).press('Enter');
  await bubbles(ana.page, 'Hello, where is my driver?').waitFor();
  assert.equal(await composer(ana.page).inputValue(), '', 'Enter sent the message and emptied the box');
  const badge = chatItem(dina.page, ORDER).getByTestId('unread-badge');
  await eventually(async () => (await badge.textContent({ timeout: 1000 })) === '1', 'Dina sees 1 unread on 1042');
  await chatItem(dina.page, ORDER).getByText('Hello, where is my driver?').waitFor();
  await screenshotSideBySide(browser, '01-unread-badge', [ana, dina]);

  // --- Dina opens it: the badge clears, she sees the message, and Ana sees "Seen by Dina".
  await chatItem(dina.page, ORDER).click();
  await bubbles(dina.page, 'Hello, where is my driver?').waitFor();
  await badge.waitFor({ state: 'detached' });
  const seen = ana.page.getByTestId('seen-by');
  await eventually(async () => (await seen.count()) === 1 && (await seen.textContent({ timeout: 1000 })) === 'Seen by Dina', 'Ana sees "Seen by Dina"');
  await messageItem(ana.page, 'Hello, where is my driver?').getByTestId('seen-by').waitFor();
  await screenshotSideBySide(browser, '02-seen-by', [ana, dina]);

  // --- Ana types: Dina sees it. Shift+Enter is a new line, not a send.
  await composer(ana.page).click();
  await composer(ana.page).pressSequentially('I am at the ', { delay: 30 });
  await dina.page.getByTestId('typing').getByText('Ana is typing…').waitFor();
  await composer(ana.page).press('Shift+Enter');
  await composer(ana.page).pressSequentially('back gate', { delay: 20 });
  assert.equal(await composer(ana.page).inputValue(), 'I am at the \nback gate', 'Shift+Enter added a line');
  assert.equal(await bubbles(dina.page, 'I am at the').count(), 0, 'Shift+Enter sent nothing');
  await screenshotSideBySide(browser, '03-typing', [ana, dina]);
  await composer(ana.page).press('Enter');
  const twoLines = dina.page.locator('.message-list .message-text', { hasText: 'back gate' });
  await twoLines.waitFor();
  assert.equal(await twoLines.evaluate((el) => el.textContent), 'I am at the \nback gate', 'one message of two lines');
  await dina.page.getByTestId('typing').getByText('is typing').waitFor({ state: 'detached' });

  // --- Dina scrolls back: the older page loads above, down to the first message.
  await dina.page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
  await bubbles(dina.page, 'history 1').waitFor();
  await dina.page.getByText('Start of the conversation').waitFor();
  for (let n = 1; n <= HISTORY; n += 1) assert.equal(await bubbles(dina.page, `history ${n}`).count(), 1, `history ${n} once`);
  await dina.page.locator('.messages').evaluate((el) => { el.scrollTop = el.scrollHeight; });

  // --- Ana's network drops. Dina writes meanwhile, Ana writes too (it waits in her queue).
  await setOffline(ana, true);
  await ana.page.locator('.connection').getByText('Offline — reconnecting…').waitFor();
  const fromDina = ['Driver is 5 minutes away', 'He will call you', 'Sorry for the wait'];
  for (const text of fromDina) {
    await composer(dina.page).fill(text);
    await composer(dina.page).press('Enter');
    await bubbles(dina.page, text).waitFor();
  }
  await composer(ana.page).fill('Thanks, waiting outside');
  await composer(ana.page).press('Enter');
  await messageItem(ana.page, 'Thanks, waiting outside').and(ana.page.locator('.pending')).getByText('Sending…').waitFor();
  assert.equal(await bubbles(ana.page, fromDina[0]).count(), 0, 'offline, Ana does not get Dina\'s messages yet');
  await screenshotSideBySide(browser, '04-offline', [ana, dina]);

  // --- Back online: both see every message exactly once, and the server stored each once.
  await setOffline(ana, false);
  await ana.page.locator('.connection[data-state="connected"]').waitFor({ timeout: 60_000 });
  const all = ['Hello, where is my driver?', ...fromDina, 'Thanks, waiting outside'];
  for (const p of [ana, dina]) {
    for (const text of all) await bubbles(p.page, text).waitFor({ timeout: 60_000 });
  }
  await ana.page.locator('.message.pending').waitFor({ state: 'detached' });
  for (const p of [ana, dina]) await chatItem(p.page, ORDER).getByText('Thanks, waiting outside').waitFor();
  ana.offline = false;
  for (const p of [ana, dina]) {
    for (const text of all) assert.equal(await bubbles(p.page, text).count(), 1, `${p.label} sees "${text}" exactly once`);
  }
  const stored = await srv.history(tok(DINA), ORDER);
  for (const text of all) {
    assert.equal(stored.filter((m) => m.message === text).length, 1, `"${text}" is stored exactly once`);
  }
  const seqs = (await ana.page.locator('.message-list .message[data-seq]').evaluateAll(
    (els) => els.map((el) => Number(el.getAttribute('data-seq')))));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'Ana\'s messages are in seq order');
  await eventually(async () => (await ana.page.getByTestId('seen-by').textContent({ timeout: 1000 })) === 'Seen by Dina',
    'Dina has seen Ana\'s offline message');
  await screenshotSideBySide(browser, '05-after-reconnect', [ana, dina]);

  // --- Accessibility: no serious or critical axe violations in either window.
  for (const p of [ana, dina]) {
    const violations = await seriousA11yViolations(p.page);
    assert.deepEqual(violations, [], `${p.label}: axe-core found serious or critical problems`);
  }

  for (const p of [ana, dina]) assert.deepEqual(p.errors, [], `${p.label}: the browser logged errors`);
  await ana.context.close();
  await dina.context.close();
});

test('attachments with thumbnails, reactions, replies, search, notifications, export, editing, deleting and a closed order', { timeout: 180_000 }, async () => {
  const PARCEL = 'order-1044';
  await srv.order(PARCEL, { number: '1044', status: 'delivered', participants: [
    { userId: ANA.id, role: ANA.role, name: ANA.name }, { userId: DINA.id, role: DINA.role, name: DINA.name }] });
  const ana = await openWindow(browser, 'Ana (customer)', `${srv.url}/console/#token=${tok(ANA)}`);
  const dina = await openWindow(browser, 'Dina (dispatcher)', `${srv.url}/console/#token=${tok(DINA)}`);
  await chatItem(ana.page, ORDER).click(); // Ana looks at another chat: 1044 notifies her

  // --- Dina sends a photo with a caption; Ana's bell counts it.
  await chatItem(dina.page, PARCEL).click();
  await dina.page.locator('.composer input[type="file"]').setInputFiles({ name: 'parcel.png', mimeType: 'image/png', buffer: pngPicture() });
  await dina.page.getByRole('list', { name: 'Files to send' }).getByText('parcel.png').waitFor();
  await composer(dina.page).fill('Photo of the parcel at your door');
  await composer(dina.page).press('Enter');
  await messageItem(dina.page, 'Photo of the parcel at your door').locator('img[alt="parcel.png"]').waitFor();
  await ana.page.getByRole('button', { name: 'Notifications, 1 unread' }).waitFor();

  // --- Ana opens it from the bell: the thumbnail is fetched with her token; the bell clears.
  await ana.page.getByRole('button', { name: 'Notifications, 1 unread' }).click();
  await ana.page.getByRole('region', { name: 'Notifications' }).getByRole('button', { name: /^Unread: New message from Dina \(order 1044\)/ }).click();
  const thumb = messageItem(ana.page, 'Photo of the parcel at your door').locator('img[alt="parcel.png"]');
  await thumb.waitFor();
  await eventually(() => thumb.evaluate((img) => img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0),
    'the thumbnail is shown from an object URL');
  await ana.page.getByRole('button', { name: 'Notifications', exact: true }).waitFor();

  // --- Ana reacts; Dina sees the reaction.
  await messageItem(ana.page, 'Photo of the parcel at your door').getByRole('button', { name: 'React to Dina' }).click();
  await ana.page.getByRole('button', { name: 'React with 👍' }).click();
  await messageItem(dina.page, 'Photo of the parcel at your door').getByRole('button', { name: '👍 1: Ana' }).waitFor();
  // --- Ana replies to it: Dina sees the quote above the answer.
  await messageItem(ana.page, 'Photo of the parcel at your door').getByRole('button', { name: 'Reply to Dina' }).click();
  await ana.page.getByText('Replying to').waitFor();
  await composer(ana.page).fill('Got it, thank you!');
  await composer(ana.page).press('Enter');
  await messageItem(dina.page, 'Got it, thank you!').locator('.quote', { hasText: 'Photo of the parcel at your door' }).waitFor();
  await screenshotSideBySide(browser, '06-attachment-reaction', [ana, dina]);

  // --- Dina searches every chat and jumps to a result in another chat.
  await dina.page.getByRole('searchbox', { name: 'Search messages' }).fill('gate');
  await dina.page.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
  const results = dina.page.getByRole('region', { name: 'Search results' });
  await results.getByRole('button', { name: /Order 1042/ }).first().waitFor();
  assert.deepEqual(await seriousA11yViolations(dina.page), [], 'axe-core with the search results open');
  await results.getByRole('button', { name: /Order 1042/ }).first().click();
  await dina.page.locator('.message.highlighted', { hasText: 'back gate' }).waitFor();
  await chatItem(dina.page, ORDER).and(dina.page.locator('[aria-current="true"]')).waitFor();

  // --- Dina exports the chat as CSV.
  await chatItem(dina.page, PARCEL).click();
  const [download] = await Promise.all([
    dina.page.waitForEvent('download'),
    dina.page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'order-order-1044.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^seq,id,createdAt/);
  assert.match(csv, /Photo of the parcel at your door/);

  // --- Dina edits her caption, and sends and deletes a message (asked once more): Ana sees both.
  await dina.page.locator('.chat-header .person.online', { hasText: 'Ana' }).waitFor();
  await messageItem(dina.page, 'Photo of the parcel at your door').getByRole('button', { name: 'Edit your message' }).click();
  await dina.page.getByRole('textbox', { name: 'Edit message' }).fill('Photo of the parcel at your front door');
  await dina.page.getByRole('textbox', { name: 'Edit message' }).press('Enter');
  await messageItem(ana.page, 'Photo of the parcel at your front door').getByText('edited').waitFor();
  await composer(dina.page).fill('Wrong chat, sorry');
  await composer(dina.page).press('Enter');
  await bubbles(ana.page, 'Wrong chat, sorry').waitFor();
  await messageItem(dina.page, 'Wrong chat, sorry').getByRole('button', { name: 'Delete your message' }).click();
  await messageItem(dina.page, 'Wrong chat, sorry').getByRole('button', { name: 'Yes, delete' }).click();
  await bubbles(ana.page, 'Wrong chat, sorry').waitFor({ state: 'detached' });
  await bubbles(ana.page, 'Message deleted').waitFor();

  // --- The platform completes the order: a system message in the middle, and the chat is read-only.
  await srv.patchOrder(PARCEL, { status: 'completed' });
  for (const p of [ana, dina]) {
    await p.page.locator('.message.system', { hasText: 'completed' }).waitFor();
    await p.page.getByText('This order is completed').waitFor();
  }
  assert.equal(await composer(ana.page).count(), 0, 'no composer in a read-only chat');
  assert.equal(await ana.page.getByRole('button', { name: /^Reply to/ }).count(), 0, 'no replying in a read-only chat');
  await screenshotSideBySide(browser, '07-edited-deleted-closed', [ana, dina]);

  for (const p of [ana, dina]) assert.deepEqual(p.errors, [], `${p.label}: the browser logged errors`);
  await ana.context.close();
  await dina.context.close();
});

test('without a token the console asks for one, and a pasted token opens it', { timeout: 120_000 }, async () => {
  const visitor = await openWindow(browser, 'sign-in', `${srv.url}/console/`, { width: 900, height: 600 });
  const field = visitor.page.getByLabel('Access token');
  await field.waitFor();
  assert.deepEqual(await seriousA11yViolations(visitor.page), [], 'the sign-in form passes axe-core');
  await visitor.page.screenshot({ path: join(SHOTS, '00-sign-in.png') });
  await field.fill('not a token');
  await visitor.page.getByRole('button', { name: 'Open console' }).click();
  await visitor.page.getByRole('alert').getByText('does not look like').waitFor();
  await field.fill(tok(DINA));
  await visitor.page.getByRole('button', { name: 'Open console' }).click();
  await visitor.page.locator('.connection[data-state="connected"]').waitFor();
  await visitor.page.reload();
  await visitor.page.locator('.whoami', { hasText: 'Dina' }).waitFor({ timeout: TIMEOUT });
  await visitor.page.getByRole('button', { name: 'Sign out' }).click();
  await field.waitFor();
  assert.deepEqual(visitor.errors, [], 'the browser logged errors');
  await visitor.context.close();

  // A link that carries no token, and a token the server refuses (signed with another
  // key: the signature is not this server's), each say so instead of failing silently.
  const badLink = await openWindow(browser, 'bad link', `${srv.url}/console/#token=not-a-jwt`, { width: 900, height: 600 });
  await badLink.page.getByRole('status').getByText('The link did not carry an orderchat token').waitFor();
  await badLink.context.close();
  const good = tok(DINA);
  const forged = `${good.slice(0, good.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
  const refused = await openWindow(browser, 'refused token', `${srv.url}/console/#token=${forged}`, { width: 900, height: 600 });
  await refused.page.getByRole('status').getByText('The server did not accept this token').waitFor({ timeout: TIMEOUT });
  await refused.page.getByLabel('Access token').waitFor();
  await refused.context.close();
});
