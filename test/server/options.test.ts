import { describe, expect, it } from 'vitest';
import { DEFAULTS, SERVER_DEFAULTS } from '../../src/server.js';

describe('server defaults', () => {
  it('are exported as SERVER_DEFAULTS, with DEFAULTS kept as a deprecated alias', () => {
    expect(SERVER_DEFAULTS).toMatchObject({ heartbeatMs: 15_000, highWaterBytes: 256 * 1024, cors: true });
    expect(DEFAULTS).toBe(SERVER_DEFAULTS);
  });
});
