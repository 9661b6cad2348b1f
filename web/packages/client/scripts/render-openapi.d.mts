// Types of render-openapi.mjs, for the TypeScript tests.
export declare function renderOpenApiTypes(document: unknown): Promise<string>;
