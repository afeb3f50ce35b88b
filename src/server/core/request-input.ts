import { ClientFrame, closeCodes } from '../../protocol/index.js';
import { ServerError } from './server-error.js';
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from '../limits/json-depth.js';

/** Anything with zod's `safeParse`. */
interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: unknown } };
}

/**
 * A request body checked against its schema; an absent body counts as `{}`.
 * Every host (the Node server, the msw handlers) answers a mismatch the same
 * way: 400 `invalid_body` with zod's issues in `details`.
 *
 * @throws {ServerError} `invalid_body` (400)
 */
export function parseBody<T>(schema: Schema<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new ServerError('invalid_body', 'The body does not match the schema', 400, { details: result.error.issues });
  }
  return result.data;
}

/**
 * A cursor-like query value (`after`, `wait`, `Last-Event-ID`): absent or
 * empty is `undefined`; anything but a non-negative integer is a 400.
 *
 * @throws {ServerError} `invalid_query` (400)
 */
export function parseCursor(name: string, value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new ServerError('invalid_query', `\`${name}\` must be a non-negative integer`, 400);
  return Number(value);
}

/**
 * A WebSocket message decoded into a client frame, or the close every host
 * answers it with: 1007 for binary or non-JSON data, 1008 for JSON that is
 * not a client frame. `text` is `undefined` for a binary message.
 */
export function decodeClientFrame(text: string | undefined, maxDepth = DEFAULT_MAX_JSON_DEPTH): { frame: ClientFrame } | { close: number; reason: string } {
  if (text === undefined) return { close: closeCodes.invalidData, reason: 'frames must be JSON text' };
  // Checked before parsing: a deeply nested frame is refused before anything walks it.
  if (exceedsJsonDepth(text, maxDepth)) return { close: closeCodes.policyViolation, reason: `frame nests deeper than ${maxDepth} levels` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { close: closeCodes.invalidData, reason: 'frame is not valid JSON' };
  }
  const parsed = ClientFrame.safeParse(json);
  if (!parsed.success) return { close: closeCodes.policyViolation, reason: 'not a valid client frame' };
  return { frame: parsed.data };
}
