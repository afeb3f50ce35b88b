/** Reading a Node request's JSON body within a byte limit. */
import type { IncomingMessage } from 'node:http';
import { parseJsonBody, payloadTooLarge } from '../commands/json-body.js';

/**
 * Read a request's JSON body, at most `maxBytes`. Resolves `undefined` for
 * an empty body.
 *
 * @throws {ServerError} `payload_too_large` (413), `unsupported_media_type` (415), `invalid_json` (400)
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw payloadTooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw payloadTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return parseJsonBody(Buffer.concat(chunks, size).toString('utf8'), req.headers['content-type']);
}
