import { TERMINAL_TYPES } from './constants.js';
import type { KnownSessionEvent, SessionEvent, TerminalEvent } from './events.js';
import type {
  CancelReply,
  CreateSessionReply,
  ErrorBody,
  PollReply,
  PromptReply,
  RespondReply,
  ReplyErrorFrame,
  ReplyOkFrame,
  ResetInfo,
  SessionSnapshot,
  SubscribeResult,
  TurnReply,
  WelcomeFrame,
} from './frames.js';

/**
 * Checks of the messages a client reads, without zod.
 *
 * The zod schemas in `events.ts` and `frames.ts` are the protocol's
 * definition: the server and `agent-tether/protocol` use them. The client
 * uses these checks instead because zod would be two thirds of its browser
 * bundle (docs/benchmarks.md). Each check accepts exactly what its schema
 * accepts; `test/protocol/checks.test.ts` holds them to that with generated
 * valid and broken values.
 *
 * A check returns `undefined` when the value conforms, else what is wrong,
 * with its path: `.events[3].seq: expected a positive integer`.
 * Unlike zod it returns nothing: a conforming value is used as it is, extra
 * fields included (harmless, never read).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Check<T = any> {
  (value: unknown): string | undefined;
  /** Type only: what a value that passes is. */
  readonly _type?: T;
}

/** Why `value` is not what was expected, or `undefined`. */
export function problem(check: Check, value: unknown): string | undefined {
  const found = check(value);
  return found === undefined ? undefined : found.replace(/^\.|^: /, '');
}

const leaf =
  (test: (value: any) => boolean, what: string): Check =>
  (value) =>
    test(value) ? undefined : `: expected ${what}`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const string = leaf((v) => typeof v === 'string', 'a string');
/** zod's `z.number()`: finite. */
export const number = leaf(Number.isFinite, 'a number');
/** zod's `z.int()`: a safe integer. */
export const int = leaf(Number.isSafeInteger, 'an integer');
export const positive = leaf((v) => Number.isSafeInteger(v) && v > 0, 'a positive integer');
export const count = leaf((v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
const boolean = leaf((v) => typeof v === 'boolean', 'a boolean');
/** `z.record(z.string(), z.unknown())`. */
const record = leaf(isObject, 'an object');
/** `z.unknown()` as an object field: any value, but the key must be there. */
const present: Check = () => undefined;

export const oneOf = (...values: readonly unknown[]): Check =>
  leaf((v) => values.includes(v), values.map((v) => JSON.stringify(v)).join(' | '));
export const optional =
  (check: Check): Check =>
  (value) =>
    value === undefined ? undefined : check(value);
const nullable =
  (check: Check): Check =>
  (value) =>
    value === null ? undefined : check(value);

export function object(shape: Record<string, Check>): Check {
  const keys = Object.keys(shape);
  return (value) => {
    if (!isObject(value)) return ': expected an object';
    for (const key of keys) {
      const check = shape[key]!;
      const found = check === present ? (key in value ? undefined : ': expected a value') : check(value[key]);
      if (found !== undefined) return `.${key}${found}`;
    }
    return undefined;
  };
}

export const array =
  (item: Check): Check =>
  (value) => {
    if (!Array.isArray(value)) return ': expected an array';
    for (let i = 0; i < value.length; i++) {
      const found = item(value[i]);
      if (found !== undefined) return `[${i}]${found}`;
    }
    return undefined;
  };

/** A union told apart by `value[key]`; `other` takes the values none of `cases` names (or they fail). */
function byKey(key: string, cases: Record<string, Check>, other?: Check): Check {
  return (value) => {
    if (!isObject(value)) return ': expected an object';
    const tag = value[key];
    const check = typeof tag === 'string' && Object.hasOwn(cases, tag) ? cases[tag]! : other;
    return check ? check(value) : `.${key}: expected ${Object.keys(cases).map((k) => JSON.stringify(k)).join(' | ')}`;
  };
}

/* ------------------------------------------------------------------ *
 * Events
 * ------------------------------------------------------------------ */

const base = { sessionId: string, seq: positive, epoch: string, time: number };
const turnBase = { ...base, turnId: string };

/** `z.string().check(z.minLength(1), z.maxLength(128))`. */
const shortName = leaf((v) => typeof v === 'string' && v.length >= 1 && v.length <= 128, 'a string of 1 to 128 characters');
const inputRequest = object({
  kind: shortName,
  prompt: string,
  options: optional(array(object({ id: shortName, label: string, description: optional(string) }))),
  details: optional(record),
});
const inputAnswerFields = object({ option: optional(string), text: optional(string), data: optional(record) });
const inputAnswer: Check = (value) =>
  inputAnswerFields(value) ??
  (['option', 'text', 'data'].some((key) => (value as Record<string, unknown>)[key] !== undefined)
    ? undefined
    : ': expected `option`, `text` or `data`');

const terminalCases = {
  'turn.completed': object({ ...turnBase, output: string }),
  'turn.canceled': object({ ...turnBase, canceledBy: string, reason: string }),
  'turn.error': object({
    ...turnBase,
    error: object({ code: string, message: string, retryable: boolean }),
  }),
} satisfies Record<(typeof TERMINAL_TYPES)[number], Check>;

const knownCases: Record<KnownSessionEvent['type'], Check> = {
  'turn.queued': object({ ...turnBase, prompt: string, clientId: optional(string) }),
  'turn.started': object(turnBase),
  'turn.delta': object({ ...turnBase, text: string }),
  'turn.item': object({ ...turnBase, item: record }),
  'turn.input_requested': object({ ...turnBase, requestId: string, request: inputRequest }),
  'turn.input_answered': object({
    ...turnBase,
    requestId: string,
    answer: inputAnswer,
    answeredBy: string,
    source: oneOf('client', 'policy'),
  }),
  ...terminalCases,
};

export const terminalEvent: Check<TerminalEvent> = byKey('type', terminalCases);

/** A known event by its own fields; an unknown type (a newer server's) by the common fields only. */
export const sessionEvent: Check<SessionEvent> = byKey(
  'type',
  knownCases,
  object({ type: string, ...base, turnId: optional(string) }),
);

/* ------------------------------------------------------------------ *
 * Replies and frames
 * ------------------------------------------------------------------ */

const turnInfo = object({
  id: string,
  sessionId: string,
  status: oneOf('queued', 'running', 'completed', 'canceled', 'error'),
  prompt: string,
  clientId: optional(string),
  createdAt: number,
  queuedSeq: positive,
  terminal: optional(terminalEvent),
});
const sessionInfo = object({
  id: string,
  epoch: string,
  seq: count,
  firstSeq: count,
  createdAt: number,
  activeTurnId: nullable(string),
  queuedTurnIds: array(string),
  metadata: optional(record),
});
const resetFields = {
  sessionId: string,
  epoch: string,
  after: count,
  reason: oneOf('epoch_changed', 'history_gone'),
};
const errorInfo = object({ code: string, message: string, status: optional(int), details: optional(present) });

export const resetInfo: Check<ResetInfo> = object(resetFields);
export const errorBody: Check<ErrorBody> = object({ error: errorInfo });
export const createSessionReply: Check<CreateSessionReply> = object({ session: sessionInfo });
export const sessionSnapshot: Check<SessionSnapshot> = object({ session: sessionInfo, turns: array(turnInfo) });
/** Also `PromptReply`: both are `{ turn }`. */
export const turnReply: Check<TurnReply & PromptReply> = object({ turn: turnInfo });
export const cancelReply: Check<CancelReply> = (value) =>
  object({ cancelled: boolean })(value) ??
  ((value as { cancelled: boolean }).cancelled ? undefined : object({ reason: oneOf('already_finished') })(value));
export const respondReply: Check<RespondReply> = (value) =>
  object({ accepted: boolean })(value) ??
  ((value as { accepted: boolean }).accepted ? undefined : object({ reason: oneOf('already_answered', 'turn_ended') })(value));
/** The envelope of a poll reply; its events are checked one by one (see `validateEvent`). */
export const pollReply: Check<PollReply> = object({
  epoch: string,
  events: array(sessionEvent),
  reset: optional(resetInfo),
  next: count,
});

export const welcomeFrame: Check<WelcomeFrame> = object({ type: oneOf('welcome'), clientId: string, heartbeatMs: positive });
export const resetFrame: Check<ResetInfo & { type: 'reset' }> = object({ type: oneOf('reset'), ...resetFields });
export const pongFrame: Check = object({ type: oneOf('pong'), time: optional(number) });
const replyOk = object({ type: oneOf('reply'), id: string, ok: oneOf(true), result: present });
const replyError = object({ type: oneOf('reply'), id: string, ok: oneOf(false), error: errorInfo });
export const replyFrame: Check<ReplyOkFrame | ReplyErrorFrame> = (value) =>
  (isObject(value) && value.ok === true ? replyOk : replyError)(value);
export const subscribeResult: Check<SubscribeResult> = object({ epoch: string, seq: count });

/**
 * Each command's reply check, by command name: the one table the WebSocket
 * transport (reply frames' `result`) and the HTTP client (2xx bodies) both
 * read, so a command's reply is held to the same shape on every path.
 */
export const replyChecks = {
  createSession: createSessionReply,
  snapshot: sessionSnapshot,
  prompt: turnReply,
  turn: turnReply,
  cancel: cancelReply,
  respond: respondReply,
  poll: pollReply,
  subscribe: subscribeResult,
  unsubscribe: present,
} as const satisfies Record<string, Check>;

/** A command whose reply has a check. */
export type CommandName = keyof typeof replyChecks;
