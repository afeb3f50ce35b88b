/**
 * The agent behind `agent-tether demo`: deterministic replies at a fixed pace,
 * so the demo (and its test) can tell exactly what should arrive.
 *
 * - `Say hello…` → a fixed greeting, one word per delta.
 * - `Count to N` → `1 2 … N`, one number per delta.
 * - `Write an endless essay` → words until the turn is canceled.
 * - anything else → `You said: <prompt>`, one word per delta.
 */

/** The greeting `Say hello` streams. */
export const GREETING = 'Hello! I am the demo agent, and this reply reaches you one word at a time.';

/** The words the endless essay repeats. */
const ESSAY = 'Agents that keep working while the network misbehaves need clients that keep up.';

/** The text `Count to n` streams. */
export function countTo(n: number): string {
  return Array.from({ length: n }, (_, i) => String(i + 1)).join(' ');
}

export interface DemoAgentInput {
  prompt: string;
  signal: AbortSignal;
}

export type DemoAgentChunk = { type: 'delta'; text: string };

/** Options of {@link demoScriptAgent}. */
export interface DemoScriptAgentOptions {
  /** Pause before each delta. @default 40 */
  delayMs?: number | undefined;
}

/**
 * @example
 * createServer({ agent: demoScriptAgent({ delayMs: 10 }) });
 */
export function demoScriptAgent(options: DemoScriptAgentOptions = {}) {
  const delayMs = options.delayMs ?? 40;
  return async function* demoScript({ prompt, signal }: DemoAgentInput): AsyncGenerator<DemoAgentChunk> {
    const count = /^count to (\d+)/i.exec(prompt.trim());
    if (/^write an endless essay/i.test(prompt.trim())) {
      // Runs until the cancel aborts `signal`; the server then ends the turn with turn.canceled.
      for (let i = 0; ; i++) {
        if (!(await pause(delayMs, signal))) return;
        yield { type: 'delta', text: wordAt(ESSAY, i) };
      }
    }
    let text = `You said: ${prompt}`;
    if (count) text = countTo(Math.min(Number(count[1]), 1000));
    else if (/^say hello/i.test(prompt.trim())) text = GREETING;
    for (const piece of splitWords(text)) {
      if (!(await pause(delayMs, signal))) return;
      yield { type: 'delta', text: piece };
    }
  };
}

/** Splits text into deltas that concatenate back to it exactly: `"a b c"` → `["a", " b", " c"]`. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [text];
}

function wordAt(text: string, i: number): string {
  const words = text.split(' ');
  return `${i === 0 ? '' : ' '}${words[i % words.length]}`;
}

/** Resolves `true` after `ms`, or `false` as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
