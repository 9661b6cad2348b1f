// Drift protection for Socket.IO: the server's OpenAPI document lists its events in the
// `x-socketio-events` extension. The hand-written ServerEvents type must name the same
// server→client events with the same fields (and which are optional), and the client must
// know every client→server event. The field tables below are checked against the type by
// the compiler (`satisfies`) and against the document by the test.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVER_EVENTS, type ServerEventName, type ServerEvents } from '../src/index.js';
import { useServer } from './support/server.js';

const srv = useServer();

type Optionality<T> = { [K in keyof T]-?: object extends Pick<T, K> ? 'optional' : 'required' };

const FIELDS = {
  'new-message': { orderId: 'required', message: 'required', timestamp: 'required' },
  'message-updated': { orderId: 'required', message: 'required', timestamp: 'required' },
  'message-deleted': { orderId: 'required', message: 'required', timestamp: 'required' },
  'order-updated': { orderId: 'required', update: 'required', timestamp: 'required' },
  'user-typing': { userId: 'required', orderId: 'required', isTyping: 'required' },
  'message-read': { userId: 'required', orderId: 'required', seq: 'required', timestamp: 'required' },
  'user-joined-order': { userId: 'required', orderId: 'required', timestamp: 'required' },
  'user-left-order': { userId: 'required', orderId: 'required', timestamp: 'required' },
  presence: { userId: 'required', online: 'required', timestamp: 'required' },
  'unread-count': { orderId: 'required', unreadCount: 'required' },
  notification: {
    id: 'optional', type: 'required', orderId: 'required', title: 'required', message: 'required',
    timestamp: 'required', messageId: 'optional', seq: 'optional', count: 'required',
  },
  'session-expired': { reason: 'required' },
} as const satisfies { [E in ServerEventName]: Optionality<ServerEvents[E]> };

/** `{ id?, type, message: Message }` → { id: 'optional', type: 'required', message: 'required' }. */
function fieldsOf(description: string): Record<string, string> {
  const inner = /^\{(.*)\}$/.exec(description.trim())?.[1] ?? '';
  return Object.fromEntries(inner.split(',').map((part) => {
    const name = (part.split(':')[0] ?? '').trim();
    return name.endsWith('?') ? [name.slice(0, -1), 'optional'] : [name, 'required'];
  }));
}

interface SocketDoc {
  serverToClient: Record<string, string>;
  clientToServer: Record<string, unknown>;
}

async function socketDoc(): Promise<SocketDoc> {
  const doc = (await (await fetch(`${srv.url}/api/openapi.json`)).json()) as { 'x-socketio-events': SocketDoc };
  return doc['x-socketio-events'];
}

describe('Socket.IO events in the OpenAPI document', () => {
  it('ServerEvents has exactly the server→client events, with the documented fields', async () => {
    const doc = await socketDoc();
    expect([...SERVER_EVENTS].sort()).toEqual(Object.keys(doc.serverToClient).sort());
    for (const [event, description] of Object.entries(doc.serverToClient)) {
      expect(FIELDS[event as ServerEventName], event).toEqual(fieldsOf(description));
    }
  });

  it('the client knows every client→server event', async () => {
    const doc = await socketDoc();
    const source = ['client.ts', 'typing.ts'].map((f) => readFileSync(fileURLToPath(new URL(`../src/${f}`, import.meta.url)), 'utf8')).join('\n');
    for (const event of Object.keys(doc.clientToServer)) expect(source, event).toContain(`'${event}'`);
  });
});
