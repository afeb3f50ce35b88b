import * as z from 'zod/mini';
import { ProtocolError } from '../errors/index.js';
import { SessionEvent } from '../protocol/index.js';

/**
 * Structural fast path for the event types that make up nearly all traffic.
 * It mirrors the zod schemas in `src/protocol/events.ts` exactly for the
 * fields it checks (a property test asserts it never accepts what zod
 * rejects); anything it does not accept goes to zod, which stays the
 * authority and produces the error message. Why: a zod parse costs about as
 * much as `JSON.parse` itself, which would cost the WebSocket and SSE
 * transports half their throughput.
 *
 * Difference from zod: a known event accepted here keeps extra fields that
 * zod would strip. They are harmless and never read.
 */
function isCommonEvent(event: Record<string, unknown>, sessionId: string): boolean {
  const seq = event.seq;
  const time = event.time;
  return (
    event.sessionId === sessionId &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq) &&
    seq > 0 &&
    typeof event.epoch === 'string' &&
    typeof time === 'number' &&
    Number.isFinite(time) &&
    typeof event.turnId === 'string'
  );
}

function isFastEvent(event: unknown, sessionId: string): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Record<string, unknown>;
  switch (e.type) {
    case 'turn.delta':
      return typeof e.text === 'string' && isCommonEvent(e, sessionId);
    case 'turn.started':
      return isCommonEvent(e, sessionId);
    case 'turn.completed':
      return typeof e.output === 'string' && isCommonEvent(e, sessionId);
    case 'turn.queued':
      return (
        typeof e.prompt === 'string' &&
        (e.clientId === undefined || typeof e.clientId === 'string') &&
        isCommonEvent(e, sessionId)
      );
    default:
      return false;
  }
}

/**
 * Validates one session event of `sessionId` (throws `ProtocolError` when it
 * is schema-invalid or belongs to another session). Unknown event types with
 * valid common fields pass (forward compatibility).
 */
export function validateEvent(value: unknown, sessionId: string): SessionEvent {
  if (isFastEvent(value, sessionId)) return value as SessionEvent;
  const result = SessionEvent.safeParse(value);
  if (!result.success) {
    throw new ProtocolError(`Invalid session event: ${z.prettifyError(result.error)}`, {
      code: 'invalid_event',
      cause: result.error,
    });
  }
  if (result.data.sessionId !== sessionId) {
    throw new ProtocolError(
      `Event of session ${result.data.sessionId} arrived on the stream of session ${sessionId}`,
      { code: 'invalid_event' },
    );
  }
  return result.data;
}

/** Validates `value` against a schema, throwing a `ProtocolError` that says what was wrong. */
export function validateFrame<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ProtocolError(`Invalid ${what}: ${z.prettifyError(result.error)}`, {
      code: 'invalid_frame',
      cause: result.error,
    });
  }
  return result.data;
}

/** Parses JSON text, throwing a `ProtocolError` when it is not JSON. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`${what} is not valid JSON`, { code: 'invalid_json', cause: error });
  }
}
