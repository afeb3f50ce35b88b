/** A random UUID v4 that works in every runtime the client supports, insecure browser pages included. */

/** The part of Web Crypto {@link randomId} uses; `randomUUID` exists only in secure contexts. */
export type RandomIdCrypto = Pick<Crypto, 'getRandomValues'> & { randomUUID?: Crypto['randomUUID'] };

/**
 * A UUID v4. `crypto.randomUUID` where the runtime has it; otherwise built
 * from `crypto.getRandomValues`, which browsers offer on plain `http://` pages
 * too (an insecure context has no `randomUUID`, and `createClient()` used to
 * throw there). The fallback follows openai-node's `uuid4`.
 *
 * @example
 * const key = randomId(); // '3b241101-e2bb-4255-8caf-4136c566a962'
 */
export function randomId(crypto: RandomIdCrypto = globalThis.crypto): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 10xx in byte 8.
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
