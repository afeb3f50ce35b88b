/** A Node request's headers as one string per lower-case name: what `authenticate` and the origin check read. */
import type { IncomingHttpHeaders } from 'node:http';

/** Repeated headers are joined with `, ` (as HTTP allows); `set-cookie` never comes from a client. */
export function flatHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}
