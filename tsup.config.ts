import { defineConfig } from 'tsup';
import { resolve } from 'node:path';
import type { Plugin } from 'esbuild';

// agent-tether/testing loads the optional peer msw with a top-level `await
// import()` (src/testing/msw/msw-module.ts); CommonJS has no top-level await,
// so its build takes the `require` twin of that file instead.
const cjsMswModule: Plugin = {
  name: 'cjs-msw-module',
  setup(build) {
    // tsup builds CommonJS with splitting as ESM that rollup then converts, so
    // the output extension, not `format`, tells the builds apart.
    if (build.initialOptions.outExtension?.['.js'] !== '.cjs') return;
    build.onResolve({ filter: /\/msw-module\.js$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.replace(/\.js$/, '-cjs.ts')),
    }));
  },
};

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      protocol: 'src/protocol.ts',
      server: 'src/server.ts',
      testing: 'src/testing.ts',
      // Bridges sit above the server; the client entry never imports them.
      'bridges/codex': 'src/bridges/codex.ts',
      'bridges/opencode': 'src/bridges/opencode.ts',
    },
    format: ['esm', 'cjs'],
    target: 'es2022',
    platform: 'neutral',
    dts: false,
    clean: true,
    sourcemap: true,
    splitting: true,
    treeshake: true,
    esbuildPlugins: [cjsMswModule],
    external: [/^node:/, 'ws', 'isomorphic-ws', 'zod', 'eventsource-parser', 'msw', 'p-retry'],
  },
  {
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    target: 'es2022',
    platform: 'node',
    dts: false,
    clean: false,
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
    external: [/^node:/, 'ws', 'isomorphic-ws', 'zod', 'eventsource-parser', 'msw', 'p-retry'],
  },
]);
