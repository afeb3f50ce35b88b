import { systemClock, type Clock } from '../internal/clock.js';
import type { Agent, AgentChunk, AgentInput } from './core/types.js';

/** Options of {@link demoAgent}. */
export interface DemoAgentOptions {
  /**
   * The reply text, or a function of the prompt.
   * @default a short paragraph echoing the prompt
   */
  reply?: string | ((prompt: string) => string);
  /**
   * Characters per delta.
   * @default 8
   */
  chunkSize?: number;
  /**
   * Pause between deltas, in milliseconds (0: no pause).
   * @default 20
   */
  delayMs?: number;
  /** Time source for the pauses. @default systemClock */
  clock?: Clock;
}

const DEFAULTS = {
  reply: (prompt: string) =>
    `You said: "${prompt}". This is the agent-tether demo agent. It streams this reply in small ` +
    'deltas at a steady pace, so you can watch a turn run, cancel it half-way, or drop your ' +
    'connection and resume from your cursor without losing a word.',
  chunkSize: 8,
  delayMs: 20,
  clock: systemClock,
} satisfies Required<DemoAgentOptions>;

/**
 * An agent that streams a reply in deltas at a configurable pace and stops
 * as soon as its `signal` aborts. For the CLI, demos, tests and benchmarks.
 *
 * @example
 * const server = createServer({ agent: demoAgent({ delayMs: 5 }) });
 */
export function demoAgent(options: DemoAgentOptions = {}): Agent {
  const reply = options.reply ?? DEFAULTS.reply;
  const chunkSize = options.chunkSize ?? DEFAULTS.chunkSize;
  const delayMs = options.delayMs ?? DEFAULTS.delayMs;
  const clock = options.clock ?? DEFAULTS.clock;
  if (typeof reply !== 'string' && typeof reply !== 'function') {
    throw new TypeError('demoAgent: `reply` must be a string or a function of the prompt');
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new TypeError('demoAgent: `chunkSize` must be a positive integer');
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new TypeError('demoAgent: `delayMs` must be a non-negative number');

  return async function* demo({ prompt, signal }: AgentInput): AsyncGenerator<AgentChunk> {
    const text = typeof reply === 'string' ? reply : reply(prompt);
    for (let i = 0; i < text.length; i += chunkSize) {
      if (signal.aborted) return;
      if (delayMs > 0 && i > 0) await sleep(clock, delayMs, signal);
      if (signal.aborted) return;
      yield { type: 'delta', text: text.slice(i, i + chunkSize) };
    }
  };
}

function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
