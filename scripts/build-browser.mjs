#!/usr/bin/env node
// Bundles the `agent-tether` entry (the client) into one browser ESM file for
// the browser example:
//
//   node scripts/build-browser.mjs          # → examples/browser/agent-tether.js
//
// The bundle is a build artifact (not committed). The browser end-to-end test
// builds it in memory with the same function.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * @param {{ outfile?: string, write?: boolean, minify?: boolean }} [options]
 *   `write: false` returns the code without touching the disk.
 * @returns {Promise<string>} the bundle's code
 */
export async function buildBrowserBundle(options = {}) {
  const { outfile = `${root}examples/browser/agent-tether.js`, write = true, minify = false } = options;
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: write ? 'linked' : false,
    outfile,
    write,
    logLevel: 'silent',
    legalComments: 'none',
  });
  if (write) {
    const { readFile } = await import('node:fs/promises');
    return readFile(outfile, 'utf8');
  }
  const js = result.outputFiles.find((file) => file.path.endsWith('.js'));
  if (!js) throw new Error('esbuild produced no JavaScript');
  return js.text;
}

/**
 * The browser-bundle measure of issue 5: `esbuild --bundle --minify
 * --format=esm --platform=browser` of `entry`, in memory, with a metafile
 * (what each input contributes). Used by bench/figures/bundle.mjs and
 * test/package/browser-bundle.test.ts.
 * @param {string} entry a path relative to the package root
 */
export function measureBundle(entry) {
  return build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const code = await buildBrowserBundle();
  console.log(`examples/browser/agent-tether.js: ${(code.length / 1024).toFixed(1)} KiB`);
}
