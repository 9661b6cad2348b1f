// Real PNG pictures made on the spot (no image files in the repository), for the
// attachment tests here and the console's browser test (web/console/tests): the server
// decodes them and makes thumbnails. No npm dependency, so both can import it.
import { crc32, deflateSync } from 'node:zlib';

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A colour gradient: red grows to the right, green downwards. */
export const gradient = (x, y, width, height) => [(x * 255) / width, (y * 255) / height, 120];

/** A real 8-bit RGB PNG of `width` × `height` pixels, each `[r, g, b] = pixel(x, y, width, height)`. */
export function png(width, height, pixel = gradient) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height); // each row: filter byte 0, then pixels
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rows.set(pixel(x, y, width, height), y * (width * 3 + 1) + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
