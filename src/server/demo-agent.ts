/** The demo agent: a paced, cancellable reply, with a few scripted prompts to try the SDK by hand. */
import { sleep, systemClock, type Clock } from '../internal/clock.js';
import type { Agent, AgentChunk, AgentInput, InputResolution } from './core/types.js';

/** Options of {@link demoAgent}. */
export interface DemoAgentOptions {
  /**
   * The reply text, or a function of the prompt. When given, every prompt gets
   * it (the scripted prompts are off).
   * @default the scripted prompts, else a short paragraph echoing the prompt
   */
  reply?: string | ((prompt: string) => string);
  /**
   * Characters per delta of `reply` and of the echo.
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

/** The greeting a prompt starting with `say hello` streams, one word per delta. */
export const GREETING = 'Hello! I am the demo agent, and this reply reaches you one word at a time.';

/** What a `slow…` prompt streams: {@link SLOW_WORDS} words, one every {@link SLOW_PAUSE_MS}. */
export const SLOW_WORDS = 40;
/** Pause between the words of a `slow…` reply (40 × 250 ms ≈ 10 s, whatever `delayMs` is). */
export const SLOW_PAUSE_MS = 250;

/** The words the endless essay (and the slow reply) repeat. */
const ESSAY = 'Agents that keep working while the network misbehaves need clients that keep up.';

/** What a `clean up…` prompt asks its clients before it goes on (an approval). */
export const CLEAN_UP_REQUEST = {
  kind: 'approval',
  prompt: 'Delete the build/ folder?',
  options: [
    { id: 'approve', label: 'Approve' },
    { id: 'deny', label: 'Deny' },
  ],
  details: { command: 'rm -rf build' },
};

/** The reply of a `clean up…` prompt, from the answer it got. */
export function cleanUpReply(resolution: InputResolution): string {
  if (resolution.status !== 'answered') return 'Nobody answered; nothing deleted.';
  return resolution.answer.option === 'approve'
    ? `Approved by ${resolution.answeredBy}: build/ deleted.`
    : `Denied by ${resolution.answeredBy}: nothing deleted.`;
}

/** The text a `count to n` prompt streams, one number per delta: `1 2 … n`. */
export function countTo(n: number): string {
  return Array.from({ length: n }, (_, i) => String(i + 1)).join(' ');
}

/** What to stream for one prompt: the pieces (one delta each) and the pause between them. */
interface Plan {
  pieces: Iterable<string>;
  pauseMs: number;
}

/**
 * An agent that streams a reply in deltas at a steady pace and stops as soon
 * as its `signal` aborts. For the CLI, demos, tests and benchmarks.
 *
 * Without `reply`, a few prompts (case-insensitive, at the start) are scripted:
 * - `say hello…` → a fixed greeting ({@link GREETING}), one word per delta;
 * - `count to N…` → `1 2 … N` (N ≤ 1000), one number per delta;
 * - `write an endless essay…` → words until the turn is canceled;
 * - `slow…` → 40 words, one every 250 ms: about 10 s to try a cancel by hand;
 * - `clean up…` → asks the clients to approve deleting `build/` ({@link CLEAN_UP_REQUEST})
 *   and says what it was told;
 * - anything else → a paragraph echoing the prompt, `chunkSize` characters per delta.
 *
 * @example
 * const server = createServer({ agent: demoAgent({ delayMs: 5 }) });
 */
export function demoAgent(options: DemoAgentOptions = {}): Agent {
  const reply = options.reply;
  const chunkSize = options.chunkSize ?? DEFAULTS.chunkSize;
  const delayMs = options.delayMs ?? DEFAULTS.delayMs;
  const clock = options.clock ?? DEFAULTS.clock;
  if (reply !== undefined && typeof reply !== 'string' && typeof reply !== 'function') {
    throw new TypeError('demoAgent: `reply` must be a string or a function of the prompt');
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new TypeError('demoAgent: `chunkSize` must be a positive integer');
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new TypeError('demoAgent: `delayMs` must be a non-negative number');

  const chunked = (text: string): Plan => ({ pieces: chunks(text, chunkSize), pauseMs: delayMs });
  const plan = (prompt: string): Plan => {
    if (reply !== undefined) return chunked(typeof reply === 'string' ? reply : reply(prompt));
    const asked = prompt.trim().toLowerCase();
    const count = /^count to (\d+)/.exec(asked);
    if (count) return { pieces: splitWords(countTo(Math.min(Number(count[1]), 1000))), pauseMs: delayMs };
    if (asked.startsWith('say hello')) return { pieces: splitWords(GREETING), pauseMs: delayMs };
    // At least 1 ms apart: an endless reply must leave the event loop room for the cancel that ends it.
    if (asked.startsWith('write an endless essay')) return { pieces: essay(Infinity), pauseMs: Math.max(delayMs, 1) };
    if (asked.startsWith('slow')) return { pieces: essay(SLOW_WORDS), pauseMs: SLOW_PAUSE_MS };
    return chunked(DEFAULTS.reply(prompt));
  };

  return async function* demo({ prompt, signal, requestInput }: AgentInput): AsyncGenerator<AgentChunk> {
    if (reply === undefined && prompt.trim().toLowerCase().startsWith('clean up')) {
      // Waits for a client's answer (or the turn's end: a cancel settles the request).
      const answer = await requestInput(CLEAN_UP_REQUEST);
      if (!signal.aborted) yield* splitWords(cleanUpReply(answer)).map((text) => ({ type: 'delta' as const, text }));
      return;
    }
    const { pieces, pauseMs } = plan(prompt);
    let first = true;
    for (const text of pieces) {
      if (!first && pauseMs > 0) await sleep(clock, pauseMs, signal);
      // Stops at once when canceled: the server then ends the turn with turn.canceled.
      if (signal.aborted) return;
      first = false;
      yield { type: 'delta', text };
    }
  };
}

/** Splits text into deltas that concatenate back to it exactly: `"a b c"` → `["a", " b", " c"]`. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [text];
}

function* chunks(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

/** `count` words of the essay, repeating, as deltas that join with single spaces. */
function* essay(count: number): Generator<string> {
  const words = ESSAY.split(' ');
  for (let i = 0; i < count; i++) yield `${i === 0 ? '' : ' '}${words[i % words.length]}`;
}
