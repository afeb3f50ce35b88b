// Emits declarations with TypeScript (tsc), then mirrors every `.d.ts` to a
// `.d.cts` whose relative specifiers end in `.cjs`, so `require` consumers
// resolve CommonJS-flavoured types and `import` consumers ESM ones.
// (tsup's bundled dts needs the TypeScript JS API, which TypeScript 7 no longer ships.)
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const outDir = 'dist';
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

let count = 0;
for await (const file of walk(outDir)) {
  if (!file.endsWith('.d.ts')) continue;
  const text = await readFile(file, 'utf8');
  const cjs = text.replace(/(from\s+|import\(\s*)(['"])(\.{1,2}\/[^'"]+?)\.js\2/g, '$1$2$3.cjs$2');
  await writeFile(file.replace(/\.d\.ts$/, '.d.cts'), cjs);
  count++;
}
console.log(`types: ${count} declaration files, mirrored to .d.cts`);
