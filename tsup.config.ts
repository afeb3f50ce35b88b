import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      protocol: 'src/protocol.ts',
      server: 'src/server.ts',
      testing: 'src/testing.ts',
    },
    format: ['esm', 'cjs'],
    target: 'es2022',
    platform: 'neutral',
    dts: false,
    clean: true,
    sourcemap: true,
    splitting: true,
    treeshake: true,
    external: [/^node:/, 'ws', 'isomorphic-ws', 'zod', 'eventsource-parser', 'msw'],
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
    external: [/^node:/, 'ws', 'isomorphic-ws', 'zod', 'eventsource-parser', 'msw'],
  },
]);
