import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/server.js';
import { sessionRecord, storeContract } from './store-contract.js';

storeContract(
  'memoryStore',
  async () => {
    const store = memoryStore();
    return { store, reopen: async () => store };
  },
  { slack: () => 0 },
);

describe('memoryStore expiry', () => {
  it('a session untouched for sessionTtlMs is gone; a touched one stays', async () => {
    let now = 0;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const store = memoryStore({ sessionTtlMs: 1000, clock });
    await store.saveSession(sessionRecord('old'));
    await store.saveSession(sessionRecord('used'));
    now = 900;
    expect(await store.loadSession('used', { maxEvents: 1 })).toBeDefined();
    now = 1500;
    expect(await store.loadSession('old', { maxEvents: 1 })).toBeUndefined();
    expect(await store.loadSession('used', { maxEvents: 1 })).toBeDefined();
    expect((await store.stats()).sessions).toBe(1);
  });

  it('rejects a TTL that is not positive', () => {
    expect(() => memoryStore({ sessionTtlMs: 0 })).toThrow(/sessionTtlMs/);
  });
});
