/** A ready `authenticate` for fixed bearer tokens: a shared secret, or a few tokens each naming a principal. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Authenticate } from './principal.js';

/**
 * An {@link Authenticate} that accepts the given bearer tokens, each mapped
 * to the principal id it stands for. Tokens are compared in constant time
 * (through their SHA-256, so their length leaks nothing either). Meant for
 * `agent-tether serve --token`, demos and tests; put your own login behind
 * `authenticate` in production.
 *
 * @example
 * createServer({ agent, authenticate: tokenAuthenticator({ [process.env.TETHER_TOKEN!]: 'me' }) });
 */
export function tokenAuthenticator(tokens: Readonly<Record<string, string>>): Authenticate {
  const entries = Object.entries(tokens).map(([token, id]) => {
    if (token.length === 0 || typeof id !== 'string' || id.length === 0) {
      throw new TypeError('tokenAuthenticator: every token and principal id must be a non-empty string');
    }
    return { digest: digest(token), id };
  });
  if (entries.length === 0) throw new TypeError('tokenAuthenticator: give at least one token');
  return ({ token }) => {
    if (token === undefined) return null;
    const offered = digest(token);
    let found: string | undefined;
    // Every entry is compared, so the time taken does not say which one matched.
    for (const entry of entries) if (timingSafeEqual(entry.digest, offered)) found ??= entry.id;
    return found === undefined ? null : { id: found };
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
