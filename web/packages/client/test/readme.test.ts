// The README's examples are meant to be pasted as they are: every ```ts / ```tsx block of
// README.md must type-check against this package (strict, as an app would compile it).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function blocks(): { lang: string; code: string }[] {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  return [...readme.matchAll(/```(tsx?)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] as string, code: m[2] as string }));
}

describe('README', () => {
  it('has a React example and every TypeScript example type-checks', () => {
    const all = blocks();
    expect(all.some((b) => b.lang === 'tsx' && b.code.includes('useChat('))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'orderchat-readme-'));
    try {
      const files = all.map((b, i) => {
        const file = join(dir, `example${i}.${b.lang}`);
        // Top-level await in the quick start: make each block a module.
        writeFileSync(file, `${b.code}\nexport {};\n`);
        return file;
      });
      const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        jsx: ts.JsxEmit.ReactJSX,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
        types: [],
        typeRoots: [join(packageDir, 'node_modules/@types'), join(packageDir, '../../node_modules/@types')],
        baseUrl: packageDir,
        paths: {
          '@orderchat/client': ['src/index.ts'],
          '@orderchat/client/react': ['src/react/index.ts'],
          react: ['../../node_modules/@types/react/index.d.ts'],
          'react/jsx-runtime': ['../../node_modules/@types/react/jsx-runtime.d.ts'],
        },
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
        const where = d.file ? `${d.file.fileName.replace(dir, 'README')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(diagnostics).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
