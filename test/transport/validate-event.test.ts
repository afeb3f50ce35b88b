import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors/index.js';
import { SessionEvent } from '../../src/protocol/index.js';
import { validateEvent } from '../../src/transport/validate-event.js';

const valid = {
  'turn.delta': { type: 'turn.delta', sessionId: 's1', seq: 1, epoch: 'e', time: 1, turnId: 't', text: 'x' },
  'turn.started': { type: 'turn.started', sessionId: 's1', seq: 1, epoch: 'e', time: 1, turnId: 't' },
  'turn.completed': { type: 'turn.completed', sessionId: 's1', seq: 1, epoch: 'e', time: 1, turnId: 't', output: 'x' },
  'turn.queued': { type: 'turn.queued', sessionId: 's1', seq: 1, epoch: 'e', time: 1, turnId: 't', prompt: 'p', clientId: 'c' },
};

function accepts(value: unknown): boolean {
  try {
    validateEvent(value, 's1');
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return false;
  }
}

/** What zod (the authority) says, plus the stream's session check. */
function zodAccepts(value: unknown): boolean {
  const result = SessionEvent.safeParse(value);
  return result.success && result.data.sessionId === 's1';
}

const oddValues = fc.oneof(
  fc.anything(),
  fc.constantFrom(0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '', 's1', 's2', null, undefined, 'turn.delta'),
);

describe('validateEvent: the fast path never accepts what the zod schema rejects', () => {
  it('agrees with zod on every single-field mutation of the fast-path event types', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(valid)),
        fc.constantFrom('type', 'sessionId', 'seq', 'epoch', 'time', 'turnId', 'text', 'output', 'prompt', 'clientId'),
        fc.option(oddValues, { nil: Symbol.for('delete') as unknown as undefined }),
        (base, field, replacement) => {
          const event: Record<string, unknown> = { ...base };
          if (replacement === (Symbol.for('delete') as unknown)) delete event[field];
          else event[field] = replacement;
          expect(accepts(event)).toBe(zodAccepts(event));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('agrees with zod on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(accepts(value)).toBe(zodAccepts(value));
      }),
      { numRuns: 500 },
    );
  });

  it('passes unknown event types through and rejects a known type with bad fields', () => {
    expect(accepts({ type: 'turn.future', sessionId: 's1', seq: 2, epoch: 'e', time: 1 })).toBe(true);
    expect(accepts({ ...valid['turn.delta'], text: 1 })).toBe(false);
    expect(accepts({ ...valid['turn.delta'], sessionId: 's2' })).toBe(false);
  });
});
