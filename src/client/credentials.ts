/** The client's credentials provider: the `headers` and `token` options, read again for every connect and request. */

/** A bearer token, or a function returning one (called again on every connect and request, so a refreshed token is used). */
export type TokenOption = string | (() => string | null | undefined | Promise<string | null | undefined>);

/** `headers` as `createClient` takes them. */
export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/**
 * The headers of the next connect or request: `headers` (called when a
 * function), plus `Authorization: Bearer <token>` when `token` gives one (it
 * replaces an `Authorization` of `headers`). No token (`undefined`, `null`,
 * `''`) sends no `Authorization` of ours.
 */
export function credentialsProvider(headers: HeadersOption | undefined, token: TokenOption | undefined): () => Promise<Record<string, string>> {
  return async () => {
    const base = { ...(typeof headers === 'function' ? await headers() : headers) };
    if (token === undefined) return base;
    const value = typeof token === 'function' ? await token() : token;
    if (value === undefined || value === null || value === '') return base;
    if (typeof value !== 'string') throw new TypeError(`token() must return a string, null or undefined; got ${typeof value}`);
    for (const name of Object.keys(base)) if (name.toLowerCase() === 'authorization') delete base[name]; // ours replaces it
    base.Authorization = `Bearer ${value}`;
    return base;
  };
}
