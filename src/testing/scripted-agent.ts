/**
 * An agent for tests whose every turn follows a script: deltas, items,
 * pauses, errors, hanging until canceled, or waiting for the test to say go.
 */
import { SafeAgentError } from '../server/security/safe-agent-error.js';
import { sleep, systemClock } from '../internal/clock.js';
import type { Agent, AgentChunk, AgentInput } from '../server.js';

export type { Agent, AgentChunk, AgentInput } from '../server.js';

/**
 * One step of a script. Steps run in order; the turn completes after the last.
 *
 * - `{ delta: 'text' }` yields a `turn.delta`.
 * - `{ item: {...} }` yields a `turn.item`.
 * - `{ delayMs: 50 }` pauses (ends early, quietly, if the turn is canceled).
 * - `{ error: 'boom' }` or `{ error: { message, name? } }` throws a `SafeAgentError` → `turn.error` (`agent_error`, with that message).
 * - `{ hang: true }` waits until the turn is canceled (its `signal` aborts).
 * - `{ until: promise }` waits until `promise` settles (or the turn is canceled):
 *   a gate the test opens when it is ready.
 */
export type ScriptStep =
  | { delta: string }
  | { item: Record<string, unknown> }
  | { delayMs: number }
  | { error: string | { message: string; name?: string } }
  | { hang: true }
  | { until: PromiseLike<unknown> };

/** A fixed list of steps for every turn, or a function of the turn's input returning the steps. */
export type Script = readonly ScriptStep[] | ((input: AgentInput) => Iterable<ScriptStep>);

/** An {@link Agent} that records its calls. */
export interface ScriptedAgent extends Agent {
  /** The input of every turn run so far, oldest first. */
  readonly calls: readonly AgentInput[];
  /**
   * Resolves with the input of the next turn the agent starts — await it
   * instead of sleeping until a turn runs.
   */
  nextCall(): Promise<AgentInput>;
}

/**
 * The default script: echoes `echo: <prompt>` one word per delta.
 *
 * @example
 * echoScript({ prompt: 'hi there' } as AgentInput); // [{delta:'echo: '},{delta:'hi '},{delta:'there'}]
 */
export function echoScript({ prompt }: Pick<AgentInput, 'prompt'>): ScriptStep[] {
  return (`echo: ${prompt}`.match(/\S+\s*|\s+/g) ?? []).map((delta) => ({ delta }));
}

/**
 * Creates an agent that plays `script` for every turn, honouring the turn's
 * `signal` at every step: a cancel ends a pause, a hang or a gate at once.
 *
 * @param script Steps for every turn, or a function of the turn's input.
 * @default script echoScript
 * @example
 * import { scriptedAgent } from 'agent-tether/testing';
 *
 * const agent = scriptedAgent(({ prompt }) =>
 *   prompt === 'slow'
 *     ? [{ delta: 'thinking…' }, { hang: true }]          // runs until canceled
 *     : [{ delta: 'Hello' }, { item: { kind: 'tool' } }, { delayMs: 10 }, { delta: '!' }],
 * );
 * const server = createServer({ agent });
 */
export function scriptedAgent(script: Script = echoScript): ScriptedAgent {
  if (typeof script !== 'function') {
    if (!Array.isArray(script)) {
      throw new TypeError('scriptedAgent: `script` must be an array of steps or a function returning steps');
    }
    script.forEach((step, index) => validateStep(step, index));
  }
  const calls: AgentInput[] = [];
  const waiters: Array<(input: AgentInput) => void> = [];

  async function* run(input: AgentInput): AsyncGenerator<AgentChunk> {
    calls.push(input);
    for (const resolve of waiters.splice(0)) resolve(input);
    const { signal } = input;
    const steps = typeof script === 'function' ? script(input) : script;
    let index = 0;
    for (const step of steps) {
      if (signal.aborted) return;
      validateStep(step, index++);
      if ('delta' in step) yield { type: 'delta', text: step.delta };
      else if ('item' in step) yield { type: 'item', item: step.item };
      else if ('delayMs' in step) await sleep(systemClock, step.delayMs, signal);
      else if ('error' in step) throw toError(step.error);
      else if ('hang' in step) await abortable(signal, () => () => {});
      else {
        await abortable(signal, (done) => {
          Promise.resolve(step.until).then(done, done);
          return () => {};
        });
      }
    }
  }

  const agent = ((input: AgentInput) => run(input)) as unknown as ScriptedAgent;
  Object.defineProperties(agent, {
    calls: { get: () => calls as readonly AgentInput[] },
    nextCall: { value: () => new Promise<AgentInput>((resolve) => waiters.push(resolve)) },
  });
  return agent;
}

/** Waits for `start`'s `done`, or for `signal` to abort — whichever is first; never rejects. */
function abortable(signal: AbortSignal, start: (done: () => void) => () => void): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      signal.removeEventListener('abort', finish);
      stop();
      resolve();
    };
    const stop = start(finish);
    signal.addEventListener('abort', finish, { once: true });
  });
}

// A script's error text was written for the client to see: it is marked safe, so it is not redacted.
function toError(spec: string | { message: string; name?: string }): Error {
  const error = new SafeAgentError(typeof spec === 'string' ? spec : spec.message);
  error.name = typeof spec === 'string' ? 'ScriptedAgentError' : (spec.name ?? 'ScriptedAgentError');
  return error;
}

function validateStep(step: unknown, index: number): asserts step is ScriptStep {
  const fail = (expected: string) =>
    new TypeError(`scriptedAgent: \`script[${index}]\` ${expected}, got ${safeJson(step)}`);
  if (typeof step !== 'object' || step === null) throw fail('must be a step object');
  const s = step as Record<string, unknown>;
  if ('delta' in s) {
    if (typeof s.delta !== 'string') throw fail('`delta` must be a string');
  } else if ('item' in s) {
    if (typeof s.item !== 'object' || s.item === null || Array.isArray(s.item)) throw fail('`item` must be an object');
  } else if ('delayMs' in s) {
    if (typeof s.delayMs !== 'number' || !(s.delayMs >= 0) || !Number.isFinite(s.delayMs)) {
      throw fail('`delayMs` must be a non-negative number');
    }
  } else if ('error' in s) {
    const e = s.error;
    if (typeof e !== 'string' && (typeof e !== 'object' || e === null || typeof (e as { message?: unknown }).message !== 'string')) {
      throw fail('`error` must be a message or { message }');
    }
  } else if ('hang' in s) {
    if (s.hang !== true) throw fail('`hang` must be true');
  } else if ('until' in s) {
    if (typeof (s.until as PromiseLike<unknown> | null)?.then !== 'function') throw fail('`until` must be a promise');
  } else {
    throw fail('must have one of delta, item, delayMs, error, hang, until');
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
