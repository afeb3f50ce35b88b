import fc from 'fast-check';
import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import * as checks from '../../src/protocol/checks.js';
import {
  CancelReply,
  CreateSessionReply,
  ErrorBody,
  PollReply,
  PongFrame,
  PromptReply,
  RespondReply,
  ReplyErrorFrame,
  ReplyOkFrame,
  ResetFrame,
  ResetInfo,
  SessionEvent,
  SessionSnapshot,
  SubscribeResult,
  TerminalEvent,
  TurnReply,
  WelcomeFrame,
} from '../../src/protocol/index.js';

// The client checks what it reads with src/protocol/checks.ts instead of zod (bundle size).
// zod stays the definition: each check must accept exactly what its schema accepts.

const common = { sessionId: 's1', seq: 3, epoch: 'e1', time: 1_700_000_000_000, turnId: 't1' };
const events = [
  { type: 'turn.queued', ...common, prompt: 'hi' },
  { type: 'turn.queued', ...common, prompt: 'hi', clientId: 'c1' },
  { type: 'turn.started', ...common },
  { type: 'turn.delta', ...common, text: 'Hel' },
  { type: 'turn.item', ...common, item: { kind: 'tool', args: [1, 2] } },
  { type: 'turn.completed', ...common, output: 'Hello' },
  { type: 'turn.canceled', ...common, canceledBy: 'c2', reason: 'user' },
  { type: 'turn.error', ...common, error: { code: 'boom', message: 'it broke', retryable: false } },
  {
    type: 'turn.input_requested',
    ...common,
    requestId: 'r1',
    request: { kind: 'approval', prompt: 'Run ls?', options: [{ id: 'approve', label: 'Approve', description: 'once' }, { id: 'deny', label: 'Deny' }], details: { command: 'ls' } },
  },
  { type: 'turn.input_requested', ...common, requestId: 'r2', request: { kind: 'text', prompt: 'Name?' } },
  { type: 'turn.input_answered', ...common, requestId: 'r1', answer: { option: 'approve' }, answeredBy: 'c1', source: 'client' },
  { type: 'turn.input_answered', ...common, requestId: 'r2', answer: { text: 'x', data: { a: 1 } }, answeredBy: 'policy', source: 'policy' },
  { type: 'turn.future', ...common, extra: { a: 1 } },
  { type: 'session.future', sessionId: 's1', seq: 1, epoch: 'e1', time: 0 },
];
const terminals = events.filter((e) => ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type));
const turn = {
  id: 't1',
  sessionId: 's1',
  status: 'completed',
  prompt: 'hi',
  clientId: 'c1',
  createdAt: 1,
  queuedSeq: 1,
  terminal: terminals[0],
};
const session = {
  id: 's1',
  epoch: 'e1',
  seq: 4,
  firstSeq: 0,
  createdAt: 1,
  activeTurnId: null,
  queuedTurnIds: ['t2', 't3'],
  metadata: { owner: 'alice' },
};
const reset = { sessionId: 's1', epoch: 'e2', after: 7, reason: 'history_gone' };
const error = { code: 'not_found', message: 'no such turn', status: 404, details: { id: 't9' } };

/** [name, our check, zod schema, values both must accept] */
const pairs: Array<[string, checks.Check, z.ZodMiniType, unknown[]]> = [
  ['sessionEvent', checks.sessionEvent, SessionEvent, events],
  ['terminalEvent', checks.terminalEvent, TerminalEvent, terminals],
  ['resetInfo', checks.resetInfo, ResetInfo, [reset, { ...reset, reason: 'epoch_changed', after: 0 }]],
  ['errorBody', checks.errorBody, ErrorBody, [{ error }, { error: { code: 'x', message: 'y' } }]],
  ['createSessionReply', checks.createSessionReply, CreateSessionReply, [{ session }, { session: { ...session, activeTurnId: 't1', metadata: undefined } }]],
  ['sessionSnapshot', checks.sessionSnapshot, SessionSnapshot, [{ session, turns: [turn, { ...turn, status: 'running', terminal: undefined }] }]],
  ['turnReply', checks.turnReply, TurnReply, [{ turn }, { turn: { ...turn, terminal: terminals[2] } }]],
  ['turnReply as PromptReply', checks.turnReply, PromptReply, [{ turn: { ...turn, status: 'queued', terminal: undefined } }]],
  ['cancelReply', checks.cancelReply, CancelReply, [{ cancelled: true }, { cancelled: false, reason: 'already_finished' }]],
  ['respondReply', checks.respondReply, RespondReply, [{ accepted: true }, { accepted: false, reason: 'already_answered' }, { accepted: false, reason: 'turn_ended' }]],
  ['pollReply', checks.pollReply, PollReply, [{ epoch: 'e1', events: events.slice(0, 4), next: 3 }, { epoch: 'e2', events: [], reset, next: 7 }]],
  ['welcomeFrame', checks.welcomeFrame, WelcomeFrame, [{ type: 'welcome', clientId: 'c1', heartbeatMs: 15_000 }]],
  ['resetFrame', checks.resetFrame, ResetFrame, [{ type: 'reset', ...reset }]],
  ['pongFrame', checks.pongFrame, PongFrame, [{ type: 'pong' }, { type: 'pong', time: 5 }]],
  [
    'replyFrame',
    checks.replyFrame,
    z.union([ReplyOkFrame, ReplyErrorFrame]),
    [{ type: 'reply', id: 'r1', ok: true, result: { turn } }, { type: 'reply', id: 'r1', ok: true, result: null }, { type: 'reply', id: 'r2', ok: false, error }],
  ],
  ['subscribeResult', checks.subscribeResult, SubscribeResult, [{ epoch: 'e1', seq: 0 }]],
];

const odd = fc.oneof(
  fc.constantFrom<unknown>(
    0, -1, 1, 1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '', 's1', 'x', null, true, false, {}, [], ['a'], [1],
    'turn.delta', 'turn.completed', 'turn.future', 'welcome', 'reply', 'reset', 'pong', 'already_finished', 'queued',
    'running', 'history_gone', 'epoch_changed', '__proto__', 'toString', 'turn.input_requested', 'turn.input_answered',
    'already_answered', 'turn_ended', 'client', 'policy', 'approve',
  ),
  fc.anything(),
);

/** Every path into `value` (objects and arrays), the root included. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) out.push(...paths(child, [...prefix, Array.isArray(value) ? Number(key) : key]));
  }
  return out;
}

const DELETE = Symbol('delete');

/** A deep copy of `value` with the thing at `path` replaced (or deleted). */
function mutate(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement === DELETE ? undefined : replacement;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  const [head, ...rest] = path as [string | number, ...Array<string | number>];
  if (rest.length === 0 && replacement === DELETE) delete copy[head];
  else copy[head] = mutate(copy[head], rest, replacement);
  return copy;
}

const ours = (check: checks.Check, value: unknown) => checks.problem(check, value) === undefined;

describe('client checks accept exactly what the zod schemas accept', () => {
  for (const [name, check, schema, samples] of pairs) {
    describe(name, () => {
      it('both accept the samples', () => {
        for (const sample of samples) {
          expect(schema.safeParse(sample).success, JSON.stringify(sample)).toBe(true);
          expect(checks.problem(check, sample)).toBeUndefined();
        }
      });

      it('agree on up to three mutations anywhere in a sample', () => {
        let rejected = 0;
        fc.assert(
          fc.property(
            fc.constantFrom(...samples),
            fc.array(fc.tuple(fc.nat(), fc.oneof(odd, fc.constant(DELETE))), { minLength: 1, maxLength: 3 }),
            (sample, edits) => {
              let value = sample;
              for (const [pick, replacement] of edits) {
                const all = paths(value);
                value = mutate(value, all[pick % all.length]!, replacement);
              }
              const zodSays = schema.safeParse(value).success;
              if (!zodSays) rejected += 1;
              expect(ours(check, value), JSON.stringify(value)).toBe(zodSays);
            },
          ),
          { numRuns: 1_500, seed: 20261121 },
        );
        // The mutations must break values often, or the agreement above proves little.
        expect(rejected).toBeGreaterThan(300);
      });

      it('agree on arbitrary values', () => {
        fc.assert(
          fc.property(fc.anything(), (value) => {
            expect(ours(check, value)).toBe(schema.safeParse(value).success);
          }),
          { numRuns: 300, seed: 20261121 },
        );
      });
    });
  }

  it('say where the problem is', () => {
    const bad = { epoch: 'e1', events: [events[3], { ...events[3], seq: 0 }], next: 3 };
    expect(checks.problem(checks.pollReply, bad)).toBe('events[1].seq: expected a positive integer');
    expect(checks.problem(checks.sessionEvent, { ...events[5], output: 1 })).toBe('output: expected a string');
    expect(checks.problem(checks.terminalEvent, events[3])).toBe(
      'type: expected "turn.completed" | "turn.canceled" | "turn.error"',
    );
    expect(checks.problem(checks.cancelReply, { cancelled: false, reason: 'nope' })).toBe('reason: expected "already_finished"');
    expect(checks.problem(checks.welcomeFrame, 'hello')).toBe('expected an object');
  });
});
