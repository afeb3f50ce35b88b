import { describe, expect, it } from 'vitest';
import { type RandomIdCrypto, randomId } from '../../src/internal/random-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Web Crypto as an insecure browser page has it: `getRandomValues` only, filling from `bytes`. */
const insecure = (bytes: number[]): RandomIdCrypto => ({
  getRandomValues: ((array: Uint8Array) => {
    array.set(bytes);
    return array;
  }) as Crypto['getRandomValues'],
});

describe('randomId', () => {
  it('uses crypto.randomUUID where the runtime has it', () => {
    const secure: RandomIdCrypto = { ...insecure([]), randomUUID: () => '11111111-2222-4333-8444-555555555555' };
    expect(randomId(secure)).toBe('11111111-2222-4333-8444-555555555555');
    expect(randomId()).toMatch(UUID_V4);
  });

  it('builds a v4 UUID from getRandomValues when randomUUID is missing', () => {
    expect(randomId(insecure(Array(16).fill(0xff)))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(randomId(insecure(Array(16).fill(0x00)))).toBe('00000000-0000-4000-8000-000000000000');
    expect(randomId(insecure([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]))).toBe(
      '01234567-89ab-4def-8123-456789abcdef',
    );
  });

  it('gives distinct, well-formed ids from the real getRandomValues', () => {
    const crypto = { getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) };
    const ids = Array.from({ length: 1000 }, () => randomId(crypto));
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
