// Child-process fixtures load the project's code through this: on Node with native type
// stripping (>= 22.18 / 23.6) the TypeScript sources directly, with a resolve hook mapping the
// sources' `./x.js` specifiers to the `./x.ts` files on disk; elsewhere the build (`npm test`
// builds before it runs vitest).
import * as nodeModule from 'node:module';

/** Whether this Node runs the TypeScript sources (else the fixtures use `dist/`). */
export const canRunSources = typeof nodeModule.registerHooks === 'function' && Boolean(process.features.typescript);
if (canRunSources) {
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        if (/^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
        throw error;
      }
    },
  });
}

/** Import one entry of the package (`'server'`, `'bridges/codex'`…) from the sources or the build. */
export function importEntry(entry) {
  return import(new URL(canRunSources ? `../../src/${entry}.ts` : `../../dist/${entry}.js`, import.meta.url).href);
}
