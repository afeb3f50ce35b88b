import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureBundle } from '../../scripts/build-browser.mjs';

const root = resolve(import.meta.dirname, '../..');

// The browser bundle is measured in bench/ (docs/benchmarks.md); this holds the
// decisions that keep it small: the client checks frames without zod, retries
// without p-retry, and carries no Node-only module.
describe('browser bundle of the agent-tether entry', () => {
  it('holds no zod, no retry library and no Node-only module', async () => {
    const entry = resolve(root, 'dist/index.js');
    if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run build` first');
    const result = await measureBundle('dist/index.js');
    const inputs = Object.keys(result.metafile.inputs);
    const packages = new Set(inputs.flatMap((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? []));
    expect([...packages].sort()).toEqual(['eventsource-parser', 'isomorphic-ws']);
    expect(inputs.filter((file) => file.startsWith('node:') || file.includes('/ws/lib/'))).toEqual([]);
    expect(inputs.some((file) => file.startsWith('dist/'))).toBe(true);
  });
});
