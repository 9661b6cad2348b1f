// `npm run generate`: starts the server, reads GET /api/openapi.json and writes
// src/generated/openapi.ts with openapi-typescript. The drift test
// (test/openapi-drift.test.ts) renders the same file from the running server and fails
// when the committed one differs, so the HTTP types cannot drift from the server.

import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server.mjs';
import { renderOpenApiTypes } from './render-openapi.mjs';

const target = resolve(dirname(fileURLToPath(import.meta.url)), '../src/generated/openapi.ts');
const server = await startServer();
try {
  const res = await fetch(`${server.url}/api/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/openapi.json: ${res.status}`);
  writeFileSync(target, await renderOpenApiTypes(await res.json()));
  console.log(`wrote ${target}`);
} finally {
  await server.stop();
}
