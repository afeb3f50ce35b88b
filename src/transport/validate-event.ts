import { ProtocolError } from '../errors/index.js';
import { problem, sessionEvent, type Check } from '../protocol/checks.js';
import type { SessionEvent } from '../protocol/events.js';

/**
 * Fast path for the event types that make up nearly all traffic: one
 * function, no closures per field. It accepts only what the full check
 * (`sessionEvent` of `src/protocol/checks.ts`) accepts (a property test holds
 * it to that); anything else goes to the full check, which says what is
 * wrong. Why: the generic check walks a closure per field, which the
 * WebSocket and SSE transports would feel in their throughput.
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
  const event = validateFrame(sessionEvent, value, 'session event', 'invalid_event');
  if (event.sessionId !== sessionId) {
    throw new ProtocolError(`Event of session ${event.sessionId} arrived on the stream of session ${sessionId}`, {
      code: 'invalid_event',
    });
  }
  return event;
}

/** Returns `value` when it passes `check`, else throws a `ProtocolError` that says what was wrong. */
export function validateFrame<T>(check: Check<T>, value: unknown, what: string, code = 'invalid_frame'): T {
  const found = problem(check, value);
  if (found !== undefined) throw new ProtocolError(`Invalid ${what}: ${found}`, { code });
  return value as T;
}

/** Parses JSON text, throwing a `ProtocolError` when it is not JSON. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`${what} is not valid JSON`, { code: 'invalid_json', cause: error });
  }
}
