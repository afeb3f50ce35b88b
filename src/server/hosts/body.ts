import type { IncomingMessage } from 'node:http';
import { ServerError } from '../core/server-error.js';

/**
 * Read a request's JSON body, at most `maxBytes`. Resolves `undefined` for
 * an empty body.
 *
 * @throws {ServerError} `payload_too_large` (413), `unsupported_media_type` (415), `invalid_json` (400)
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ServerError('payload_too_large', `The body exceeds ${maxBytes} bytes`, 413);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ServerError('payload_too_large', `The body exceeds ${maxBytes} bytes`, 413);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'];
  // A missing Content-Type is read as JSON; a different one is refused.
  if (type !== undefined && !/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new ServerError('unsupported_media_type', 'The body must be application/json', 415);
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ServerError('invalid_json', 'The body is not valid JSON', 400, { cause: error });
  }
}
