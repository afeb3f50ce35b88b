/** Reading a Node request's JSON body within a byte limit and a nesting limit. */
import type { IncomingMessage } from 'node:http';
import { parseJsonBody, payloadTooLarge } from '../commands/json-body.js';
import { ServerError } from '../core/server-error.js';

/**
 * Read a request's JSON body, at most `maxBytes`, nested at most `maxDepth`.
 * Resolves `undefined` for an empty body. A client that goes away mid-body is
 * a client's doing, not a server failure: it is a 400 `request_aborted`
 * (which nobody receives) and never an `error` log line.
 *
 * @throws {ServerError} `payload_too_large` (413), `unsupported_media_type` (415), `invalid_json` (400), `request_aborted` (400)
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, maxDepth?: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw payloadTooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw payloadTooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ServerError) throw error;
    throw new ServerError('request_aborted', 'The request body was not received whole', 400, { cause: error });
  }
  return parseJsonBody(Buffer.concat(chunks, size).toString('utf8'), req.headers['content-type'], maxDepth);
}
