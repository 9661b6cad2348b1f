// Attachments through the real server, against every attachment store the run has
// (the local directory always; the S3-compatible test server when scripts/test started
// one): upload, attach, download with Range, thumbnails, and every refusal — outsiders,
// someone else's upload, a disguised executable, too large (no partial object left),
// the daily quota, path-traversal names — and files deleted with their message or
// when no message took them.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { spawnServer, token, id, emitAck, waitFor, eventually, customerAndDriver, sleep } from '../helpers.mjs';
import { png, windowsExe, elf, pdf, upload, download, attachmentStores, storedObjects, storeEnv } from '../files.mjs';

const MiB = 1024 * 1024;

for (const store of attachmentStores()) {
  describe(`attachments on the ${store.name}`, () => {
    let srv;
    let env;
    before(async () => {
      env = {
        ...storeEnv(store, id('files')),
        ORDERCHAT_MAX_ATTACHMENT_BYTES: String(MiB),
        ORDERCHAT_ATTACHMENT_QUOTA_BYTES_PER_DAY: String(2 * MiB),
      };
      srv = await spawnServer(env);
    });
    after(async () => { await srv?.stop(); });

    const photo = png(640, 480);
    const uploadPhoto = (tok, orderId, name = 'delivery.png') =>
      upload(srv, tok, { fields: [['orderId', orderId]], file: { name, type: 'image/png', bytes: photo } });

    test('a photo is uploaded, attached without a caption, delivered, downloaded and has a thumbnail', async () => {
      const { orderId, ct, dt } = await customerAndDriver(srv);
      const up = await uploadPhoto(dt, orderId, 'proof of delivery.png');
      assert.equal(up.status, 201, up.text);
      const att = up.body.data;
      assert.equal(att.fileName, 'proof of delivery.png');
      assert.equal(att.contentType, 'image/png');
      assert.equal(att.size, photo.length);
      assert.equal(att.url, `/api/chat/attachments/${att.id}`);
      assert.equal(att.thumbnailUrl, `/api/chat/attachments/${att.id}/thumbnail`);

      const customer = await srv.connect(ct);
      assert.equal((await emitAck(customer, 'join-order-room', orderId)).ok, true);
      const arrived = waitFor(customer, 'new-message', (e) => e.orderId === orderId);
      const sent = await srv.http('POST', '/api/chat/messages', dt, { orderId, attachments: [att.id] });
      assert.equal(sent.status, 201, sent.text);
      assert.equal(sent.body.data.messageType, 'file');
      assert.equal(sent.body.data.message, '');
      assert.deepEqual(sent.body.data.attachments, [att]);
      assert.deepEqual((await arrived).message.attachments, [att]);
      const history = await srv.http('GET', `/api/chat/orders/${orderId}/messages`, ct);
      assert.deepEqual(history.body.data.at(-1).attachments, [att]);

      const got = await download(srv, ct, att.url);
      assert.equal(got.status, 200);
      assert.ok(got.bytes.equals(photo), 'the same bytes come back');
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.equal(got.headers.get('content-length'), String(photo.length));
      assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
      assert.match(got.headers.get('content-security-policy'), /default-src 'none'.*sandbox/);
      assert.match(got.headers.get('content-disposition'), /^inline; filename="proof of delivery.png"/);
      assert.equal(got.headers.get('accept-ranges'), 'bytes');

      const thumb = await download(srv, ct, att.thumbnailUrl);
      assert.equal(thumb.status, 200);
      assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([...thumb.bytes.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
      assert.ok(thumb.bytes.length < photo.length / 2, `thumbnail of ${thumb.bytes.length} bytes`);
      assert.equal(thumb.headers.get('x-content-type-options'), 'nosniff');
      customer.close();
    });

    test('Range requests get the bytes asked for; a range past the end is 416', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const file = pdf(10_000);
      const up = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'bol.pdf', bytes: file } });
      assert.equal(up.status, 201, up.text);
      const { url } = up.body.data;
      const part = await download(srv, dt, url, { range: 'bytes=100-199' });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 100-199/${file.length}`);
      assert.equal(part.headers.get('content-length'), '100');
      assert.ok(part.bytes.equals(file.subarray(100, 200)));
      const tail = await download(srv, dt, url, { range: 'bytes=-10' });
      assert.equal(tail.status, 206);
      assert.ok(tail.bytes.equals(file.subarray(file.length - 10)));
      const past = await download(srv, dt, url, { range: `bytes=${file.length}-` });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), `bytes */${file.length}`);
      assert.equal(past.body.code, 'range_not_satisfiable');
      // A PDF is offered as a download, never shown in the page.
      const whole = await download(srv, dt, url);
      assert.match(whole.headers.get('content-disposition'), /^attachment; filename="bol.pdf"/);
      assert.equal((await download(srv, dt, `${url}/thumbnail`)).body.code, 'no_thumbnail');
    });

    test('outsiders get 404 for the file and its thumbnail; an unattached upload is its uploader’s alone; staff may read attached ones', async () => {
      const { orderId, ct, dt } = await customerAndDriver(srv);
      const other = await customerAndDriver(srv);
      const up = await uploadPhoto(dt, orderId);
      const { url, thumbnailUrl, id: attId } = up.body.data;
      // Not attached yet: the customer of the same order cannot fetch it either.
      assert.equal((await download(srv, ct, url)).status, 404);
      assert.equal((await download(srv, dt, url)).status, 200);
      await srv.send(dt, orderId, 'the photo', { attachments: [attId] });
      for (const path of [url, thumbnailUrl]) {
        const outsider = await download(srv, other.ct, path);
        assert.equal(outsider.status, 404, path);
        assert.equal(outsider.body.code, 'attachment_not_found');
        assert.equal((await download(srv, ct, path)).status, 200, path);
        assert.equal((await download(srv, token(id('disp'), 'dispatcher'), path)).status, 200, path);
      }
      assert.equal((await download(srv, other.ct, '/api/chat/attachments/no-such-id')).status, 404);
      assert.equal((await fetch(srv.url + url)).status, 401, 'no token');
    });

    test('only the uploader may attach an upload, only in its order, only once', async () => {
      const { orderId, ct, dt } = await customerAndDriver(srv);
      const other = await customerAndDriver(srv);
      const mine = (await uploadPhoto(dt, orderId)).body.data.id;
      const refused = async (tok, body, status, code) => {
        const res = await srv.http('POST', '/api/chat/messages', tok, body);
        assert.equal(res.status, status, res.text);
        assert.equal(res.body.code, code, res.text);
      };
      // Someone else's upload, even in the same order, looks like no upload at all.
      await refused(ct, { orderId, message: 'mine now', attachments: [mine] }, 400, 'invalid_field');
      // The driver's own upload, in another order they are not in / another of theirs.
      await srv.order(other.orderId, { [other.customer]: 'customer', [dt.driver ?? 'x']: 'driver' });
      await refused(dt, { orderId: other.orderId, attachments: [mine] }, 404, 'order_not_found');
      await refused(dt, { orderId, attachments: [mine, mine] }, 400, 'invalid_field');
      await refused(dt, { orderId, messageType: 'file', message: 'no file' }, 400, 'invalid_field');
      await refused(dt, { orderId, attachments: Array.from({ length: 11 }, (_, i) => `a${i}`) }, 400, 'invalid_field');
      const first = await srv.http('POST', '/api/chat/messages', dt, { orderId, message: 'caption', attachments: [mine] });
      assert.equal(first.status, 201, first.text);
      assert.equal(first.body.data.messageType, 'file');
      assert.equal(first.body.data.message, 'caption');
      await refused(dt, { orderId, attachments: [mine] }, 409, 'attachment_taken');
      // A retry with the same clientId is the same message, not a second claim.
      const again = (await uploadPhoto(dt, orderId)).body.data.id;
      const a = await srv.http('POST', '/api/chat/messages', dt, { orderId, attachments: [again], clientId: 'c-1' });
      const b = await srv.http('POST', '/api/chat/messages', dt, { orderId, attachments: [again], clientId: 'c-1' });
      assert.equal(a.status, 201, a.text);
      assert.equal(b.status, 200, b.text);
      assert.equal(b.body.data.id, a.body.data.id);
      // Over Socket.IO, the same rule.
      const sock = await srv.connect(ct);
      const ack = await emitAck(sock, 'send-message', { orderId, attachments: [again] });
      assert.equal(ack.ok, false);
      assert.equal(ack.code, 'invalid_field');
      sock.close();
    });

    test('concurrent messages racing for one upload: exactly one gets it', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const att = (await uploadPhoto(dt, orderId)).body.data.id;
      const tries = await Promise.all(
        Array.from({ length: 8 }, (_, i) => srv.http('POST', '/api/chat/messages', dt, { orderId, message: `try ${i}`, attachments: [att] })),
      );
      const statuses = tries.map((t) => t.status).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409], tries.map((t) => t.text).join('\n'));
    });

    test('a disguised executable is refused with 415 and nothing is stored', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const before = await storedObjects(srv, env);
      for (const [name, bytes] of [['photo.jpg', windowsExe()], ['scan.pdf', elf()], ['notes.txt', Buffer.from([0, 1, 2, 3, 4, 5, 255, 254])]]) {
        const res = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name, type: 'image/jpeg', bytes } });
        assert.equal(res.status, 415, `${name}: ${res.text}`);
        assert.equal(res.body.code, 'unsupported_file_type');
      }
      const html = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'x.txt', bytes: Buffer.from('<html><script>alert(1)</script></html>') } });
      assert.equal(html.status, 415, html.text);
      const text = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'rates.csv', bytes: Buffer.from('lane,rate\nA-B,1200\n') } });
      assert.equal(text.status, 201, text.text);
      assert.equal(text.body.data.contentType, 'text/csv');
      assert.equal((await storedObjects(srv, env)).length, before.length + 1);
    });

    test('a file over the size limit is refused with 413 and leaves no partial object', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const before = await storedObjects(srv, env);
      // 6 MiB: past the 1 MiB limit and past one 5 MiB multipart part, so a part was
      // on its way to the store when the limit was crossed … or would have been.
      const res = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'big.pdf', size: 6 * MiB, fill: Buffer.from('%PDF-1.7\n') } });
      if (res.status !== 0) {
        assert.equal(res.status, 413, res.text);
        assert.equal(res.body.code, 'file_too_large');
      }
      await eventually(async () => (await storedObjects(srv, env)).length === before.length, 'no object is left');
      assert.deepEqual(await storedObjects(srv, env), before);
      // Just under the limit is fine.
      const fits = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'fits.pdf', size: MiB - 64, fill: Buffer.from('%PDF-1.7\n') } });
      assert.equal(fits.status, 201, fits.text);
    });

    test('the daily upload quota is per user: past it, 429 with Retry-After', async () => {
      const { orderId, dt, ct } = await customerAndDriver(srv);
      const file = { name: 'scan.pdf', size: 900 * 1024, fill: Buffer.from('%PDF-1.7\n') };
      assert.equal((await upload(srv, dt, { fields: [['orderId', orderId]], file })).status, 201);
      assert.equal((await upload(srv, dt, { fields: [['orderId', orderId]], file })).status, 201);
      const over = await upload(srv, dt, { fields: [['orderId', orderId]], file });
      assert.equal(over.status, 429, over.text);
      assert.equal(over.body.code, 'upload_quota_exceeded');
      const retry = Number(over.headers.get('retry-after'));
      assert.ok(retry > 3000 && retry <= 86400, `Retry-After ${retry}`);
      // Someone else still may.
      assert.equal((await upload(srv, ct, { fields: [['orderId', orderId]], file })).status, 201);
    });

    test('concurrent uploads cannot beat the daily quota together', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const file = { name: 'scan.pdf', size: 900 * 1024, fill: Buffer.from('%PDF-1.7\n') };
      // Four at once, 3.6 MB against a 2 MiB quota: each counts the others under way.
      const results = await Promise.all(Array.from({ length: 4 }, () => upload(srv, dt, { fields: [['orderId', orderId]], file })));
      const stored = results.filter((r) => r.status === 201).length;
      assert.ok(stored >= 1 && stored <= 2, results.map((r) => `${r.status} ${r.text?.slice(0, 80)}`).join('\n'));
      for (const r of results.filter((r) => r.status !== 201)) {
        assert.equal(r.status, 429, r.text);
        assert.equal(r.body.code, 'upload_quota_exceeded');
      }
    });

    test('a user has at most 4 uploads under way; the fifth is 429 too_many_uploads', async () => {
      const { orderId, ct } = await customerAndDriver(srv);
      let release;
      const gate = new Promise((r) => { release = r; });
      // Uploads that send their form and the file's first bytes, then wait at the gate.
      const stalled = Array.from({ length: 4 }, () =>
        upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'slow.txt', size: 64 * 1024, fill: Buffer.from('slow\n'), gate } }));
      await sleep(300);
      const fifth = await upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'x.txt', bytes: Buffer.from('x\n') } });
      assert.equal(fifth.status, 429, fifth.text);
      assert.equal(fifth.body.code, 'too_many_uploads');
      release();
      for (const r of await Promise.all(stalled)) assert.equal(r.status, 201, r.text);
      // Their places are free again.
      const after = await upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'x.txt', bytes: Buffer.from('x\n') } });
      assert.equal(after.status, 201, after.text);
    });

    test('more than 1 MiB of form data before the file is refused with 413', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const res = await upload(srv, dt, { fields: [['orderId', orderId], ['padding', 'p'.repeat(2 * MiB)]], file: { name: 'a.txt', bytes: Buffer.from('hi\n') } });
      assert.equal(res.status, 413, res.text);
      assert.equal(res.body.code, 'payload_too_large');
    });

    test('file names are cut to a plain name: no paths', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const res = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: '../../../etc/cron.d/evil.txt', bytes: Buffer.from('hello\n') } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.data.fileName, 'evil.txt');
      const windows = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: '..\\..\\boot.ini', bytes: Buffer.from('x\n') } });
      assert.equal(windows.body.data.fileName, 'boot.ini');
      const got = await download(srv, dt, res.body.data.url);
      assert.match(got.headers.get('content-disposition'), /^attachment; filename="evil.txt"/);
      // Every stored object is under the store's own random keys.
      for (const key of await storedObjects(srv, env)) assert.doesNotMatch(key, /evil|boot|\.\./, key);
    });

    test('refusals of the upload request itself', async () => {
      const { orderId, dt } = await customerAndDriver(srv);
      const other = await customerAndDriver(srv);
      const file = { name: 'a.txt', bytes: Buffer.from('hi\n') };
      const cases = [
        [await upload(srv, undefined, { fields: [['orderId', orderId]], file }), 401, 'unauthenticated'],
        [await upload(srv, dt, { fields: [['orderId', other.orderId]], file }), 404, 'order_not_found'],
        [await upload(srv, dt, { file, after: [['orderId', orderId]] }), 400, 'invalid_field'],
        [await upload(srv, dt, { fields: [['orderId', orderId]] }), 400, 'invalid_field'],
        [await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'empty.txt', bytes: Buffer.alloc(0) } }), 400, 'invalid_field'],
        [await srv.http('POST', '/api/chat/attachments', dt, { orderId }), 415, 'unsupported_media_type'],
      ];
      for (const [res, status, code] of cases) {
        assert.equal(res.status, status, res.text);
        assert.equal(res.body.code, code, res.text);
      }
      // orderId in the query string works as well as a field before the file.
      const byQuery = await upload(srv, dt, { file }, { query: `?orderId=${encodeURIComponent(orderId)}` });
      assert.equal(byQuery.status, 201, byQuery.text);
    });

    test('deleting a message deletes its files', async () => {
      const { orderId, ct, dt } = await customerAndDriver(srv);
      const att = (await uploadPhoto(dt, orderId)).body.data;
      const before = await storedObjects(srv, env);
      const sent = await srv.send(dt, orderId, 'wrong photo', { attachments: [att.id] });
      const deleted = await srv.http('DELETE', `/api/chat/messages/${sent.id}`, dt);
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.body.data.attachments, []);
      assert.equal((await download(srv, ct, att.url)).status, 404);
      assert.equal((await download(srv, dt, att.thumbnailUrl)).status, 404);
      // The photo and its thumbnail are gone from the store.
      assert.equal((await storedObjects(srv, env)).length, before.length - 2);
    });
  });

  test(`uploads no message took are deleted after the configured time (${store.name})`, async () => {
    const env = { ...storeEnv(store, id('expiry')), ORDERCHAT_ATTACHMENT_UNREFERENCED_SECS: '2' };
    const srv = await spawnServer(env);
    try {
      const { orderId, dt } = await customerAndDriver(srv);
      const kept = (await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'kept.pdf', bytes: pdf() } })).body.data;
      await srv.send(dt, orderId, 'kept', { attachments: [kept.id] });
      const dropped = (await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'dropped.pdf', bytes: pdf() } })).body.data;
      await eventually(async () => (await download(srv, dt, dropped.url)).status === 404, 'the unattached upload is gone', 15_000);
      assert.equal((await storedObjects(srv, env)).length, 1, 'only the attached file is left');
      assert.equal((await download(srv, dt, kept.url)).status, 200);
      const metrics = await (await fetch(`${srv.url}/metrics`)).text();
      assert.match(metrics, /orderchat_attachments_expired_total 1\b/);
    } finally {
      await srv.stop();
    }
  });
}

test('a bad ORDERCHAT_ATTACHMENTS_URL stops the start with a clear message', async () => {
  for (const url of ['ftp://files.example/x', 'file://relative/dir', 's3://']) {
    await assert.rejects(spawnServer({ ORDERCHAT_ATTACHMENTS_URL: url }), /ORDERCHAT_ATTACHMENTS_URL/, url);
  }
});

/** The resident memory of process `pid`, in bytes (Linux). */
function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

test('a 200 MB upload streams through: the server’s memory stays flat', async () => {
  const srv = await spawnServer({
    ORDERCHAT_MAX_ATTACHMENT_BYTES: String(256 * MiB),
    ORDERCHAT_ATTACHMENT_QUOTA_BYTES_PER_DAY: '0',
  });
  try {
    const { orderId, dt } = await customerAndDriver(srv);
    // Warm up (first upload allocates the server's steady buffers), then measure.
    assert.equal((await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'warm.pdf', size: 8 * MiB, fill: Buffer.from('%PDF-1.7\n') } })).status, 201);
    const before = rssOf(srv.proc.pid);
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, rssOf(srv.proc.pid)); }, 10);
    const size = 200 * MiB;
    const res = await upload(srv, dt, { fields: [['orderId', orderId]], file: { name: 'scan.pdf', size, fill: Buffer.from('%PDF-1.7\n') } });
    clearInterval(sampler);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.data.size, size);
    const grew = peak - before;
    // Two 5 MiB parts in flight plus the HTTP buffers: well under a tenth of the file.
    assert.ok(grew < 40 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB during a ${size / MiB} MiB upload`);
    console.log(`# 200 MiB upload: RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (+${(grew / MiB).toFixed(1)})`);
    const [stored] = (await storedObjects(srv, {})).filter((path) => statSync(path).size === size);
    assert.ok(stored, 'the whole file is in the store');
  } finally {
    await srv.stop();
  }
});

/**
 * Starts an upload over a raw connection: the headers, the orderId field and the first
 * bytes of a file, then nothing. Resolves with the raw HTTP answer once the server
 * closes the connection.
 */
function stalledUpload(srv, tok, orderId) {
  const boundary = 'stall-boundary';
  const head = [
    `--${boundary}\r\nContent-Disposition: form-data; name="orderId"\r\n\r\n${orderId}\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\nContent-Type: text/plain\r\n\r\n`,
    'the first line of a long file\n',
  ].join('');
  const url = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST /api/chat/attachments HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${tok}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${1024 * 1024}\r\n\r\n${head}`,
      );
    });
    let answer = '';
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('node-wide upload places: the next upload is 429; a stalled one is cut with 408 and leaves no file', async () => {
  const srv = await spawnServer({ ORDERCHAT_MAX_UPLOADS: '2', ORDERCHAT_HTTP_BODY_TIMEOUT_SECS: '2' });
  try {
    const { orderId, ct, dt } = await customerAndDriver(srv);
    const started = Date.now();
    // Two users, one stalled upload each: the node's two places are taken.
    const stalled = [stalledUpload(srv, ct, orderId), stalledUpload(srv, dt, orderId)];
    await sleep(500);
    const third = await upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'x.txt', bytes: Buffer.from('x\n') } });
    assert.equal(third.status, 429, third.text);
    assert.equal(third.body.code, 'too_many_uploads');

    for (const answer of await Promise.all(stalled)) {
      assert.match(answer, /^HTTP\/1\.1 408 /, answer);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      assert.equal(body.code, 'request_timeout');
      assert.match(body.message, /stalled for more than 2 s/, 'the message names the pause that ended it');
    }
    assert.ok(Date.now() - started >= 1900, 'not before the pause was over');
    assert.deepEqual(await storedObjects(srv, {}), [], 'no partial file left behind');
    // Their places are free again.
    const after = await upload(srv, ct, { fields: [['orderId', orderId]], file: { name: 'x.txt', bytes: Buffer.from('x\n') } });
    assert.equal(after.status, 201, after.text);
  } finally {
    await srv.stop();
  }
});
