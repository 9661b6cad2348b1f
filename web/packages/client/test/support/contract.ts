// Validates values against the schemas of the server's own OpenAPI document (JSON Schema
// 2020-12 with ajv): the runtime half of the drift protection, for what the generated
// types cannot see (Socket.IO payloads that carry HTTP schemas, parsed REST answers).

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const DOC_ID = 'https://orderchat.invalid/openapi.json';

export interface Contract {
  document: { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  /** Throws unless `value` is a valid `components.schemas[name]`. */
  assertSchema(name: string, value: unknown): void;
}

export async function loadContract(url: string): Promise<Contract> {
  const res = await fetch(`${url}/api/openapi.json`);
  const document = (await res.json()) as Contract['document'];
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addFormat('int64', { type: 'number', validate: Number.isInteger });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addSchema({ ...document, $id: DOC_ID });
  return {
    document,
    assertSchema(name, value) {
      const validate = ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`) ?? ajv.compile({ $ref: `${DOC_ID}#/components/schemas/${name}` });
      if (!validate(value)) {
        throw new Error(`not a valid ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`);
      }
    },
  };
}
