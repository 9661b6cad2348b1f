// Files for the attachment tests, made here rather than committed: a real PNG (so the
// server can decode it for a thumbnail), disguised executables, and multipart bodies
// streamed from a generator so a test can send hundreds of megabytes without holding
// them. Also a look into the attachment stores (the local directory, or the
// S3-compatible test server, which answers unsigned listings) to prove no object stays
// behind a refusal.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadContract } from './openapi.mjs';

export { png } from './png.mjs';

/** A Windows executable's start (MZ header, PE signature). */
export const windowsExe = () => Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff', 'latin1'), Buffer.alloc(2000, 0x41)]);
/** A Linux executable's start (ELF header). */
export const elf = () => Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\x00', 'latin1'), Buffer.alloc(2000, 0)]);
/** The start of a PDF. */
export const pdf = (size = 4096) => Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(size - 9, 0x20)]);

/**
 * A multipart/form-data body: `fields` ([name, value] pairs, sent first, in order),
 * then the file part `file` ({ name, type, bytes } or { name, type, size, fill, gate? }
 * for a file generated as it is sent, its rest held back until `gate` resolves), then
 * `after` fields. Returns { body, contentType },
 * where body is an async iterable of Uint8Array (for fetch with duplex: 'half').
 */
export function multipart({ fields = [], file, after = [] }) {
  const boundary = `----orderchat${Math.random().toString(16).slice(2)}`;
  const field = ([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  async function* body() {
    for (const f of fields) yield field(f);
    if (file) {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
          `Content-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
      );
      if (file.bytes) {
        yield file.bytes;
      } else {
        // Generated: `fill` decides the first bytes (a type's magic number), the rest is
        // plain text so the type stays what the start says.
        const piece = 1024 * 1024;
        let sent = 0;
        const head = file.fill ?? Buffer.alloc(0);
        if (head.length) { yield head; sent += head.length; }
        // `gate`: a promise the rest of the file waits for (a slow client).
        if (file.gate) await file.gate;
        const block = Buffer.alloc(piece, 0x61);
        while (sent < file.size) {
          const n = Math.min(piece, file.size - sent);
          yield n === piece ? block : block.subarray(0, n);
          sent += n;
        }
      }
      yield Buffer.from('\r\n');
    }
    for (const f of after) yield field(f);
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return { body: body(), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** POST a multipart upload; returns { status, headers, body }. */
export async function upload(srv, tok, parts, { query = '' } = {}) {
  const { body, contentType } = multipart(parts);
  const headers = { 'content-type': contentType };
  if (tok) headers.authorization = `Bearer ${tok}`;
  // Small bodies go whole (with a Content-Length), so a refusal sent before the server
  // read them cannot cut the request short; generated files are streamed.
  const streamed = parts.file && !parts.file.bytes;
  let payload;
  if (streamed) {
    payload = ReadableStreamFrom(body);
  } else {
    const pieces = [];
    for await (const piece of body) pieces.push(piece);
    payload = Buffer.concat(pieces);
  }
  let res;
  try {
    res = await fetch(`${srv.url}/api/chat/attachments${query}`, { method: 'POST', headers, body: payload, duplex: 'half' });
  } catch (err) {
    // The server may answer (413) and close before the whole body was sent.
    return { status: 0, error: err };
  }
  const text = await res.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = text; }
  const response = { status: res.status, headers: res.headers, body: parsed, text };
  (await loadContract(srv.url)).check({ method: 'POST', path: `/api/chat/attachments${query}`, headers }, response);
  return response;
}

function ReadableStreamFrom(iterable) {
  const it = iterable[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(new Uint8Array(value));
    },
  });
}

/** GET an attachment URL (path) with optional headers; returns the bytes too. */
export async function download(srv, tok, path, headers = {}) {
  const res = await fetch(srv.url + path, { headers: { authorization: `Bearer ${tok}`, ...headers } });
  const bytes = Buffer.from(await res.arrayBuffer());
  let body;
  try { body = JSON.parse(bytes.toString()); } catch { body = null; }
  const response = { status: res.status, headers: res.headers, bytes, body };
  (await loadContract(srv.url)).check({ method: 'GET', path, headers }, response);
  return response;
}

/** The attachment stores the suite runs against: the local directory always, S3 when the test S3 server is up. */
export function attachmentStores() {
  const stores = [{ name: 'local directory', env: {} }];
  if (process.env.ORDERCHAT_TEST_S3_URL) {
    const aws = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_')));
    stores.push({ name: 'S3-compatible server', env: { ...aws, ORDERCHAT_ATTACHMENTS_URL: process.env.ORDERCHAT_TEST_S3_URL }, s3: true });
  }
  return stores;
}

/**
 * Every object (and, on S3, every unfinished multipart upload) in a server's
 * attachment store: file paths under `<dataDir>/attachments`, or keys under the S3 URL's
 * prefix (`env`: the server's environment; each server gets a prefix of its own, see
 * `storeEnv`).
 */
export async function storedObjects(srv, env) {
  if (!env.ORDERCHAT_ATTACHMENTS_URL) {
    const root = join(srv.dataDir, 'attachments');
    const found = [];
    const walk = (dir) => {
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path); else found.push(path);
      }
    };
    walk(root);
    return found;
  }
  const url = new URL(env.ORDERCHAT_ATTACHMENTS_URL);
  const bucket = url.host;
  const prefix = url.pathname.replace(/^\//, '');
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const list = await (await fetch(`${endpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`)).text();
  const uploads = await (await fetch(`${endpoint}/${bucket}?uploads&prefix=${encodeURIComponent(prefix)}`)).text();
  const keys = [...list.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
  const pending = [...uploads.matchAll(/<UploadId>([^<]*)<\/UploadId>/g)].map((m) => `pending upload ${m[1]}`);
  return [...keys, ...pending];
}

/** The store's settings for one server: on S3, a prefix of its own so listings do not mix servers. */
export function storeEnv(store, name) {
  if (!store.s3) return store.env;
  return { ...store.env, ORDERCHAT_ATTACHMENTS_URL: `${store.env.ORDERCHAT_ATTACHMENTS_URL.replace(/\/$/, '')}/${name}` };
}
