/**
 * The request target as a URL on a fixed origin. `req.url` is a path, but
 * `new URL('//x', base)` reads `//x` as an authority (host `x`) and `//` as an
 * invalid URL, which turned such requests into 500s. Prefixing the origin keeps
 * every target a path; anything still unparsable becomes `/`, which no route
 * matches, so it gets the ordinary 404 JSON reply.
 */
export function requestUrl(target: string | undefined): URL {
  const path = target?.startsWith('/') ? target : `/${target ?? ''}`;
  try {
    return new URL(`http://localhost${path}`);
  } catch {
    return new URL('http://localhost/');
  }
}
