import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: keep parallelism modest so socket tests are not starved.
    maxWorkers: 2,
    restoreMocks: true,
    // Waits for real I/O get 10 s instead of vitest's fixed 1 s, which a busy
    // machine exceeded (see test/wait-defaults.ts). Tests still end as soon as
    // what they wait for holds.
    setupFiles: ['test/wait-defaults.ts'],
    expect: { poll: { timeout: 10_000 } },
  },
});
