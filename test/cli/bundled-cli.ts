/** The CLI bundled from src/cli.ts (as tsup does for dist/cli.js), for tests that run it as a real process. */
import { afterAll, beforeAll } from 'vitest';
import { bundleForNode } from '../examples/support.js';

/**
 * Bundles the CLI before the file's tests and removes the bundle after them.
 * @returns the bundle's path, readable once `beforeAll` has run.
 */
export function bundledCli(): { readonly file: string } {
  let bundle: Awaited<ReturnType<typeof bundleForNode>> | undefined;
  beforeAll(async () => {
    bundle = await bundleForNode('src/cli.ts');
  });
  afterAll(async () => {
    await bundle?.remove();
  });
  return {
    get file() {
      if (!bundle) throw new Error('the CLI is bundled in beforeAll');
      return bundle.file;
    },
  };
}
