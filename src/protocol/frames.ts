import * as z from 'zod/mini';
import { SessionEvent, TerminalEvent } from './events.js';
import { InputAnswer } from './input.js';

/* ------------------------------------------------------------------ *
 * Shared shapes
 * ------------------------------------------------------------------ */

/** Where a turn is in its life. Exactly one of the last three is final. */
export const TurnStatus = z.enum(['queued', 'running', 'completed', 'canceled', 'error']);

/** A turn as the server reports it (HTTP replies, WebSocket replies). */
export const TurnInfo = z.object({
  id: z.string(),
  sessionId: z.string(),
  status: TurnStatus,
  prompt: z.string(),
  clientId: z.optional(z.string()),
  createdAt: z.number(),
  /** `seq` of the turn's `turn.queued` event: replaying from `queuedSeq - 1` yields all of it. */
  queuedSeq: z.int().check(z.positive()),
  /** The turn's terminal event, once it has one. */
  terminal: z.optional(TerminalEvent),
  /** Set in a session snapshot when `prompt` or a completed turn's `output` was cut; the turn's own route has all of it. */
  truncated: z.optional(z.boolean()),
});

/** A session's current state. */
export const SessionInfo = z.object({
  id: z.string(),
  epoch: z.string(),
  /** The last `seq` appended (0 when the log is empty). */
  seq: z.int().check(z.nonnegative()),
  /** The oldest `seq` the server still holds; resuming from before it yields a reset. */
  firstSeq: z.int().check(z.nonnegative()),
  createdAt: z.number(),
  activeTurnId: z.nullable(z.string()),
  queuedTurnIds: z.array(z.string()),
  metadata: z.optional(z.record(z.string(), z.unknown())),
});

/** `GET /v1/sessions/:id`: the session and its most recent turns (oldest first). */
export const SessionSnapshot = z.object({
  session: SessionInfo,
  turns: z.array(TurnInfo),
});

/** Why a stream restarted from a later cursor than the client asked for. */
export const ResetReason = z.enum(['epoch_changed', 'history_gone']);

/**
 * Sent instead of a silent gap: the history needed to resume is gone. The
 * stream continues with the events after `after` in epoch `epoch`.
 */
export const ResetInfo = z.object({
  sessionId: z.string(),
  epoch: z.string(),
  after: z.int().check(z.nonnegative()),
  reason: ResetReason,
});

/** The JSON body of every 4xx/5xx reply, and the `error` of a failed WebSocket reply. */
export const ErrorInfo = z.object({
  code: z.string(),
  message: z.string(),
  /** The HTTP status this error maps to (also set on WebSocket replies). */
  status: z.optional(z.int()),
  details: z.optional(z.unknown()),
});
export const ErrorBody = z.object({ error: ErrorInfo });

/* ------------------------------------------------------------------ *
 * HTTP commands
 * ------------------------------------------------------------------ */

/** `POST /v1/sessions` body (optional). */
export const CreateSessionRequest = z.object({
  metadata: z.optional(z.record(z.string(), z.unknown())),
  /** Principal ids that may use the session besides its creator (servers with authentication). */
  sharedWith: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(256))).check(z.maxLength(100))),
});
/** `POST /v1/sessions` reply (201). */
export const CreateSessionReply = z.object({ session: SessionInfo });

/** `POST /v1/sessions/:id/turns` body; `Idempotency-Key` header optional. */
export const PromptRequest = z.object({
  prompt: z.string(),
  clientId: z.optional(z.string()),
});
/** Reply to a prompt: 201 for a new turn, 200 when the idempotency key matched an existing one. */
export const PromptReply = z.object({ turn: TurnInfo });

/** `GET /v1/sessions/:id/turns/:turnId` reply. */
export const TurnReply = z.object({ turn: TurnInfo });

/** `POST /v1/sessions/:id/turns/:turnId/cancel` body (optional). */
export const CancelRequest = z.object({
  clientId: z.optional(z.string()),
  reason: z.optional(z.string()),
});
/**
 * Reply to a cancel. 200 for every race (F1, F3): `cancelled:false` with
 * `already_finished` when the turn already has its terminal. Unknown turns are 404.
 */
export const CancelReply = z.discriminatedUnion('cancelled', [
  z.object({ cancelled: z.literal(true) }),
  z.object({ cancelled: z.literal(false), reason: z.literal('already_finished') }),
]);

/** `POST /v1/sessions/:id/turns/:turnId/respond` body: the answer to one of the turn's input requests. */
export const RespondRequest = z.object({
  requestId: z.string(),
  answer: InputAnswer,
  clientId: z.optional(z.string()),
});
/**
 * Reply to a respond. 200 for every race: `accepted:false` with
 * `already_answered` when another answer won first, `turn_ended` when the
 * turn ended before anyone answered. An unknown turn or request is a 404
 * `not_found`; an answer that is not one of the request's options a 400
 * `invalid_answer`.
 */
export const RespondReply = z.discriminatedUnion('accepted', [
  z.object({ accepted: z.literal(true) }),
  z.object({ accepted: z.literal(false), reason: z.enum(['already_answered', 'turn_ended']) }),
]);

/** `GET /v1/sessions/:id/poll?after=&epoch=&wait=` reply. */
export const PollReply = z.object({
  epoch: z.string(),
  events: z.array(SessionEvent),
  /** Present when the requested cursor could not be honoured; events continue after `reset.after`. */
  reset: z.optional(ResetInfo),
  /** The cursor to send as `after` next time. */
  next: z.int().check(z.nonnegative()),
});

/* ------------------------------------------------------------------ *
 * WebSocket frames (one multiplexed socket per client)
 * ------------------------------------------------------------------ */

const requestId = z.string().check(z.minLength(1), z.maxLength(128));

export const SubscribeFrame = z.object({
  type: z.literal('subscribe'),
  id: requestId,
  sessionId: z.string(),
  after: z.optional(z.int().check(z.nonnegative())),
  epoch: z.optional(z.string()),
});
export const UnsubscribeFrame = z.object({
  type: z.literal('unsubscribe'),
  id: requestId,
  sessionId: z.string(),
});
export const PromptFrame = z.object({
  type: z.literal('prompt'),
  id: requestId,
  sessionId: z.string(),
  prompt: z.string(),
  idempotencyKey: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export const CancelFrame = z.object({
  type: z.literal('cancel'),
  id: requestId,
  sessionId: z.string(),
  turnId: z.string(),
  reason: z.optional(z.string()),
});
export const RespondFrame = z.object({
  type: z.literal('respond'),
  id: requestId,
  sessionId: z.string(),
  turnId: z.string(),
  requestId: z.string(),
  answer: InputAnswer,
});
export const PingFrame = z.object({ type: z.literal('ping'), time: z.optional(z.number()) });

/** Every frame a client may send. */
export const ClientFrame = z.discriminatedUnion('type', [
  SubscribeFrame,
  UnsubscribeFrame,
  PromptFrame,
  CancelFrame,
  RespondFrame,
  PingFrame,
]);

/** First frame from the server on every socket. */
export const WelcomeFrame = z.object({
  type: z.literal('welcome'),
  clientId: z.string(),
  /** The server expects traffic at least this often and pings idle sockets at this pace. */
  heartbeatMs: z.int().check(z.positive()),
});
/** A batch of one session's events, in `seq` order. */
export const EventsFrame = z.object({
  type: z.literal('events'),
  sessionId: z.string(),
  events: z.array(SessionEvent),
});
export const ResetFrame = z.object({ type: z.literal('reset'), ...ResetInfo.shape });
export const ReplyOkFrame = z.object({
  type: z.literal('reply'),
  id: z.string(),
  ok: z.literal(true),
  result: z.unknown(),
});
export const ReplyErrorFrame = z.object({
  type: z.literal('reply'),
  id: z.string(),
  ok: z.literal(false),
  error: ErrorInfo,
});
export const PongFrame = z.object({ type: z.literal('pong'), time: z.optional(z.number()) });

/** Every frame the server may send. Replies are correlated to requests by `id`. */
export const ServerFrame = z.union([
  WelcomeFrame,
  EventsFrame,
  ResetFrame,
  ReplyOkFrame,
  ReplyErrorFrame,
  PongFrame,
]);

/** `result` of a successful `subscribe` reply. */
export const SubscribeResult = z.object({ epoch: z.string(), seq: z.int().check(z.nonnegative()) });

export type TurnStatus = z.infer<typeof TurnStatus>;
export type TurnInfo = z.infer<typeof TurnInfo>;
export type SessionInfo = z.infer<typeof SessionInfo>;
export type SessionSnapshot = z.infer<typeof SessionSnapshot>;
export type ResetReason = z.infer<typeof ResetReason>;
export type ResetInfo = z.infer<typeof ResetInfo>;
export type ErrorInfo = z.infer<typeof ErrorInfo>;
export type ErrorBody = z.infer<typeof ErrorBody>;
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;
export type CreateSessionReply = z.infer<typeof CreateSessionReply>;
export type PromptRequest = z.infer<typeof PromptRequest>;
export type PromptReply = z.infer<typeof PromptReply>;
export type TurnReply = z.infer<typeof TurnReply>;
export type CancelRequest = z.infer<typeof CancelRequest>;
export type CancelReply = z.infer<typeof CancelReply>;
export type RespondRequest = z.infer<typeof RespondRequest>;
export type RespondReply = z.infer<typeof RespondReply>;
export type PollReply = z.infer<typeof PollReply>;
export type SubscribeFrame = z.infer<typeof SubscribeFrame>;
export type UnsubscribeFrame = z.infer<typeof UnsubscribeFrame>;
export type PromptFrame = z.infer<typeof PromptFrame>;
export type CancelFrame = z.infer<typeof CancelFrame>;
export type RespondFrame = z.infer<typeof RespondFrame>;
export type PingFrame = z.infer<typeof PingFrame>;
export type ClientFrame = z.infer<typeof ClientFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type EventsFrame = z.infer<typeof EventsFrame>;
export type ResetFrame = z.infer<typeof ResetFrame>;
export type ReplyOkFrame = z.infer<typeof ReplyOkFrame>;
export type ReplyErrorFrame = z.infer<typeof ReplyErrorFrame>;
export type PongFrame = z.infer<typeof PongFrame>;
export type ServerFrame = z.infer<typeof ServerFrame>;
export type SubscribeResult = z.infer<typeof SubscribeResult>;
