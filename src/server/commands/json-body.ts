/** A request body's text read as JSON, with the checks every host applies (415, 400). */
import { ServerError } from '../core/server-error.js';
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from '../limits/json-depth.js';

/**
 * `text` (a body of `bytes` bytes) as JSON; `undefined` for an empty body. A
 * missing Content-Type is read as JSON; a different one is refused, and so is
 * nesting deeper than `maxDepth` (before parsing: nothing downstream ever
 * walks it).
 *
 * @throws {ServerError} `unsupported_media_type` (415), `invalid_json` (400)
 */
export function parseJsonBody(text: string, contentType: string | undefined, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  if (text.length === 0) return undefined;
  if (contentType !== undefined && !/^application\/([\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    throw new ServerError('unsupported_media_type', 'The body must be application/json', 415);
  }
  if (exceedsJsonDepth(text, maxDepth)) {
    throw new ServerError('invalid_json', `The body nests deeper than ${maxDepth} levels`, 400, { details: { maxDepth } });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ServerError('invalid_json', 'The body is not valid JSON', 400, { cause: error });
  }
}

/** The 413 every host answers for a body over `maxBytes`. */
export function payloadTooLarge(maxBytes: number): ServerError {
  return new ServerError('payload_too_large', `The body exceeds ${maxBytes} bytes`, 413);
}
