// Drift protection: the committed src/generated/openapi.ts must be exactly what the
// running server's GET /api/openapi.json renders to, and every operation of the document
// must have its RestClient method.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderOpenApiTypes } from '../scripts/render-openapi.mjs';
import { RestClient } from '../src/index.js';
import { useServer } from './support/server.js';

const srv = useServer();

/** operationId → the RestClient method that calls it (or why none is needed). */
const COVERAGE: Record<string, keyof RestClient | `none: ${string}`> = {
  upload: 'upload',
  download: 'download',
  thumbnail: 'download',
  send_message: 'sendMessage',
  delete_message: 'deleteMessage',
  edit_message: 'editMessage',
  add_reaction: 'addReaction',
  remove_reaction: 'removeReaction',
  replies: 'replies',
  list_notifications: 'notifications',
  mark_notifications_read: 'markNotificationsRead',
  order_chats: 'listChats',
  export: 'export',
  history: 'history',
  search_order: 'search',
  search_all: 'searchAll',
  mute: 'mute',
  unmute: 'unmute',
  participants: 'participants',
  mark_read: 'markRead',
  stats: 'stats',
  unread_count: 'unreadCount',
  openapi_json: 'openapi',
  get_order: 'getOrder',
  update_order: 'updateOrder',
  put_order: 'putOrder',
  healthz: 'none: operations probe, not a chat client',
  readyz: 'none: operations probe, not a chat client',
  metrics: 'none: Prometheus scrape, not a chat client',
};

describe('the OpenAPI document and the generated types', () => {
  it('src/generated/openapi.ts is what the running server renders (run `npm run generate` after a server change)', async () => {
    const document = await (await fetch(`${srv.url}/api/openapi.json`)).json();
    const expected = await renderOpenApiTypes(document);
    const committed = readFileSync(fileURLToPath(new URL('../src/generated/openapi.ts', import.meta.url)), 'utf8');
    expect(committed).toBe(expected);
  });

  it('every operation of the document has a RestClient method', async () => {
    const document = (await (await fetch(`${srv.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item).map((op) => op.operationId)).filter(Boolean).sort();
    expect(operations).toEqual(Object.keys(COVERAGE).sort());
    for (const method of Object.values(COVERAGE)) {
      if (method.startsWith('none:')) continue;
      expect(typeof RestClient.prototype[method as keyof RestClient], method).toBe('function');
    }
  });
});
