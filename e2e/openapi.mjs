// The contract check: every HTTP response the suite receives through `srv.http` is
// validated against the server's own OpenAPI document (`GET /api/openapi.json`), so
// the document cannot drift from what the server answers.
//
//   const contract = await loadContract(url);          // once per test process
//   contract.check({ method, path, headers }, { status, headers, body, text });  // throws
//
// (`body` is the parsed JSON; `text`, or `bytes` for a file, says whether there was one.)
//
// A response fails the check when:
//   - its path matches no path of the document and it is not a 404 with the error body;
//   - its path is documented but not for this method, and it is not a 405 with the
//     error body and an `Allow` header naming the documented methods;
//   - its status is not documented for the operation, or its content type is not
//     (media ranges such as `*/*` or `image/*` in the document match as in HTTP);
//   - its JSON body does not validate against the documented schema (JSON Schema
//     2020-12, as OpenAPI 3.1 uses; objects are closed, so an undocumented field fails).
// CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) are the CORS
// layer's, not the API's, and are not checked.
//
// Each schema is compiled once, the first time a response needs it.

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const DOCUMENT_ID = 'https://orderchat.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let loading = null;

/** The contract of the server at `url`, fetched once per test process. */
export function loadContract(url) {
  if (!loading) {
    loading = (async () => {
      const res = await fetch(`${url}/api/openapi.json`);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET /api/openapi.json: ${res.status} ${text.slice(0, 300)}`);
      return new Contract(JSON.parse(text));
    })();
    // A failed load (a server that died while starting) may be retried by the next server.
    loading.catch(() => { loading = null; });
  }
  return loading;
}

export class Contract {
  constructor(document) {
    if (!/^3\.1\./.test(document.openapi)) throw new Error(`expected OpenAPI 3.1, got ${document.openapi}`);
    this.document = document;
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    // OpenAPI's `int64`/`double` are not JSON Schema formats: the type says enough.
    this.ajv.addFormat('int64', { type: 'number', validate: Number.isInteger });
    this.ajv.addFormat('double', { type: 'number', validate: () => true });
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    this.validators = new Map();
    // Templated paths, literal ones first so `/a/b` wins over `/a/{x}`.
    this.paths = Object.keys(document.paths)
      .map((template) => ({
        template,
        params: (template.match(/\{[^}]+\}/g) || []).length,
        regex: new RegExp(`^${template.split(/\{[^}]+\}/).map(escapeRegex).join('[^/]+')}$`),
      }))
      .sort((a, b) => a.params - b.params);
  }

  /** The documented path template `path` (without its query) falls under, or undefined. */
  match(path) {
    const bare = path.split('?')[0];
    return this.paths.find((p) => p.regex.test(bare))?.template;
  }

  /** Throws an Error saying what differs from the document; returns what was checked. */
  check(request, response) {
    const method = request.method.toLowerCase();
    const headerOf = (headers, name) => Object.entries(headers || {}).find(([k]) => k.toLowerCase() === name)?.[1];
    if (method === 'options' && headerOf(request.headers, 'access-control-request-method')) return 'cors preflight';
    const where = `${request.method} ${request.path} → ${response.status}`;
    const template = this.match(request.path);
    if (!template) {
      if (response.status !== 404) throw new Error(`${where}: path not in the OpenAPI document (only 404 may answer it)`);
      this.validate(this.componentPointer('ErrorBody'), response.body, `${where} (unknown path)`);
      return 'unknown path';
    }
    const item = this.document.paths[template];
    // axum answers HEAD with the GET handler, without a body.
    const operation = item[method] ?? (method === 'head' ? item.get : undefined);
    if (!operation) {
      if (response.status !== 405) throw new Error(`${where}: ${request.method} is not documented for ${template} (only 405 may answer it)`);
      this.validate(this.componentPointer('ErrorBody'), response.body, `${where} (method not allowed)`);
      const allow = (response.headers.get('allow') || '').toLowerCase().split(/\s*,\s*/);
      const documented = METHODS.filter((m) => item[m]);
      const missing = documented.filter((m) => !allow.includes(m));
      if (missing.length) throw new Error(`${where}: Allow "${response.headers.get('allow')}" lacks documented ${missing.join(', ')}`);
      return 'method not allowed';
    }
    const documentedMethod = item[method] ? method : 'get';
    const status = String(response.status);
    const answer = operation.responses?.[status] ?? operation.responses?.default;
    if (!answer) {
      throw new Error(`${where}: status ${status} is not documented for ${documentedMethod.toUpperCase()} ${template} (documented: ${Object.keys(operation.responses || {}).join(', ')})`);
    }
    if (method === 'head') return `${documentedMethod} ${template} ${status}`;
    const contentType = (response.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
    const content = answer.content || {};
    if (!contentType) {
      const hasBody = Boolean(response.text) || response.bytes?.length > 0;
      if (Object.keys(content).length && hasBody) throw new Error(`${where}: a body without Content-Type`);
      return `${documentedMethod} ${template} ${status}`;
    }
    const mediaRange = [contentType, `${contentType.split('/')[0]}/*`, '*/*'].find((range) => content[range]);
    if (!mediaRange) {
      throw new Error(`${where}: Content-Type ${contentType} is not documented (documented: ${Object.keys(content).join(', ') || 'none'})`);
    }
    if (mediaRange === 'application/json' && content[mediaRange].schema) {
      const pointer = ['paths', template, documentedMethod, 'responses', answer === operation.responses[status] ? status : 'default', 'content', contentType, 'schema'];
      this.validate(pointer, response.body, `${where} (${documentedMethod.toUpperCase()} ${template})`);
    }
    return `${documentedMethod} ${template} ${status}`;
  }

  componentPointer(name) {
    return ['components', 'schemas', name];
  }

  /** Validates `body` against the schema at `pointer` (a list of keys) in the document. */
  validate(pointer, body, what) {
    const ref = `${DOCUMENT_ID}#/${pointer.map((key) => encodeURIComponent(String(key).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
    let validator = this.validators.get(ref);
    if (!validator) {
      validator = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validator);
    }
    if (!validator(body)) {
      const errors = validator.errors.slice(0, 8).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
      throw new Error(`${what}: the body does not match the OpenAPI document:\n  ${errors.join('\n  ')}\n  body: ${JSON.stringify(body).slice(0, 600)}`);
    }
  }
}

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
