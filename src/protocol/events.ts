import * as z from 'zod/mini';

/**
 * Fields every session event carries. `seq` is per session, starts at 1 and
 * grows by exactly 1; `epoch` names the session's history and changes only when
 * that history is lost, so `(epoch, seq)` is a resumable cursor (F4).
 */
const base = {
  sessionId: z.string(),
  seq: z.int().check(z.positive()),
  epoch: z.string(),
  /** Milliseconds since the Unix epoch, server clock. */
  time: z.number(),
};
const turnBase = { ...base, turnId: z.string() };

/** `turn.queued`: a prompt was accepted and waits for the session to be free. */
export const TurnQueuedEvent = z.object({
  type: z.literal('turn.queued'),
  ...turnBase,
  prompt: z.string(),
  clientId: z.optional(z.string()),
});
/** `turn.started`: the agent began working on the turn. */
export const TurnStartedEvent = z.object({ type: z.literal('turn.started'), ...turnBase });
/** `turn.delta`: a piece of the turn's streamed output text. */
export const TurnDeltaEvent = z.object({ type: z.literal('turn.delta'), ...turnBase, text: z.string() });
/** `turn.item`: a structured item the agent produced (tool call, file edit, …). */
export const TurnItemEvent = z.object({
  type: z.literal('turn.item'),
  ...turnBase,
  item: z.record(z.string(), z.unknown()),
});
/** `turn.completed`: the agent finished; `output` is the concatenation of the turn's deltas. */
export const TurnCompletedEvent = z.object({
  type: z.literal('turn.completed'),
  ...turnBase,
  output: z.string(),
});
/** `turn.canceled`: the turn was ended early by a cancel (F1: a normal end, never an error). */
export const TurnCanceledEvent = z.object({
  type: z.literal('turn.canceled'),
  ...turnBase,
  /** The `clientId` of whoever canceled, or `'server'`. */
  canceledBy: z.string(),
  reason: z.string(),
});
/** The error carried by a `turn.error` event. */
export const TurnErrorInfo = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  /** Names the failure in the server's log (an agent's own error text goes there, not to clients). */
  errorId: z.optional(z.string()),
});
/** `turn.error`: the turn failed (agent threw, server restarted mid-turn, client closed, …). */
export const TurnErrorEvent = z.object({
  type: z.literal('turn.error'),
  ...turnBase,
  error: TurnErrorInfo,
});

/** Any of the three terminal events; each turn has exactly one. */
export const TerminalEvent = z.discriminatedUnion('type', [
  TurnCompletedEvent,
  TurnCanceledEvent,
  TurnErrorEvent,
]);

/** Every event type this version of the protocol knows. */
export const KnownSessionEvent = z.discriminatedUnion('type', [
  TurnQueuedEvent,
  TurnStartedEvent,
  TurnDeltaEvent,
  TurnItemEvent,
  TurnCompletedEvent,
  TurnCanceledEvent,
  TurnErrorEvent,
]);

const KNOWN_TYPES: ReadonlySet<string> = new Set([
  'turn.queued',
  'turn.started',
  'turn.delta',
  'turn.item',
  'turn.completed',
  'turn.canceled',
  'turn.error',
]);

/**
 * An event type from a newer server. Passed through, not fatal, so old
 * clients keep working against new servers (forward compatibility).
 */
export const UnknownSessionEvent = z
  .looseObject({
    type: z.string(),
    ...base,
    turnId: z.optional(z.string()),
  })
  // A known type with bad fields is invalid, not "unknown".
  .check(z.refine((event) => !KNOWN_TYPES.has(event.type), { message: 'Invalid fields for a known event type' }));

/** Whether `type` is one of the event types this version knows. */
export function isKnownEventType(type: string): boolean {
  return KNOWN_TYPES.has(type);
}

/**
 * Any session event as it travels on the wire: a known event validated by
 * its own schema, or an unknown one validated only by the common fields.
 */
export const SessionEvent = z.union([KnownSessionEvent, UnknownSessionEvent]);

export type TurnQueuedEvent = z.infer<typeof TurnQueuedEvent>;
export type TurnStartedEvent = z.infer<typeof TurnStartedEvent>;
export type TurnDeltaEvent = z.infer<typeof TurnDeltaEvent>;
export type TurnItemEvent = z.infer<typeof TurnItemEvent>;
export type TurnCompletedEvent = z.infer<typeof TurnCompletedEvent>;
export type TurnCanceledEvent = z.infer<typeof TurnCanceledEvent>;
export type TurnErrorInfo = z.infer<typeof TurnErrorInfo>;
export type TurnErrorEvent = z.infer<typeof TurnErrorEvent>;
export type TerminalEvent = z.infer<typeof TerminalEvent>;
export type KnownSessionEvent = z.infer<typeof KnownSessionEvent>;
export type UnknownSessionEvent = z.infer<typeof UnknownSessionEvent>;
/** A session event: one of the known types, or an unknown one passed through. */
export type SessionEvent = KnownSessionEvent | UnknownSessionEvent;
/** The events of one turn, as yielded by iterating a `Turn`. */
export type TurnEvent = KnownSessionEvent & { turnId: string };
/** The type names of the terminal events. */
export type TerminalType = TerminalEvent['type'];
