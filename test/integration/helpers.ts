/**
 * Shared pieces of the integration and chaos suites: a real reference server,
 * the fault proxy in front of it, and clients that record what they saw.
 * Everything is reached through the public entry points, except the client's
 * internal timing hooks below.
 */
import { createClient, HttpError, type Client, type ClientOptions, type TetherError, type TurnEvent } from '../../src/index.js';
// Internal knobs (heartbeat deadline, open timeout, poll wait) the public options do not expose
// yet; the stall, SSE-blocked and chaos tests use them to run in seconds instead of 45 s / 20 s.
import { createClientWith, type ClientHooks } from '../../src/client/client.js';
import { clientSockets } from '../support/client-sockets.js';

/** A gate a scripted turn waits on (`{ until: gate.promise }`); `open()` lets it continue. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Reconnect fast and deterministically in tests (no jitter). */
const FAST_RECONNECT = { initialDelayMs: 10, maxDelayMs: 100, jitter: 'none' } as const;

/**
 * The wrapped `fetch` records every HTTP status the client received: "no 5xx
 * anywhere" is asserted from it.
 */
export interface Recorded {
  client: Client;
  statuses: number[];
  errors: TetherError[];
}

export function recordingClient(options: ClientOptions, hooks?: ClientHooks): Recorded {
  const statuses: number[] = [];
  const errors: TetherError[] = [];
  const baseFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const make = hooks ? (o: ClientOptions) => createClientWith(o, hooks) : createClient;
  const client = make({
    requestTimeoutMs: 10_000,
    reconnect: FAST_RECONNECT,
    ...options,
    fetch: async (input, init) => {
      const response = await baseFetch(input, init);
      statuses.push(response.status);
      return response;
    },
  });
  client.on('error', (error) => {
    errors.push(error);
  });
  return { client, statuses, errors };
}

/** Every `HttpError` with a 5xx status the client reported, plus every 5xx the wrapped fetch saw. */
export function serverErrors(recorded: Recorded): unknown[] {
  return [
    ...recorded.statuses.filter((s) => s >= 500),
    ...recorded.errors.filter((e) => e instanceof HttpError && e.status >= 500),
  ];
}

export function summarize(events: TurnEvent[]): { events: TurnEvent[]; text: string; terminals: TurnEvent[] } {
  let text = '';
  const terminals: TurnEvent[] = [];
  for (const ev of events) {
    if (ev.type === 'turn.delta') text += (ev as { text: string }).text;
    if (ev.type === 'turn.completed' || ev.type === 'turn.canceled' || ev.type === 'turn.error') terminals.push(ev);
  }
  return { events, text, terminals };
}

/** Reads a turn straight from the server (not through the proxy): the ground truth. */
export async function serverTurn(serverUrl: string, sessionId: string, turnId: string): Promise<{
  id: string;
  status: string;
  terminal?: { type: string; output?: string; canceledBy?: string; seq: number } & Record<string, unknown>;
}> {
  const response = await fetch(`${serverUrl}/v1/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}`);
  if (response.status !== 200) throw new Error(`GET turn answered ${response.status}`);
  return ((await response.json()) as { turn: never }).turn;
}

/** Resolves when the client reaches a state matching `predicate` (or is already in one). */
export function stateReached(client: Client, predicate: (s: Client['state']) => boolean, timeoutMs = 15_000): Promise<void> {
  if (predicate(client.state)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`state not reached; last ${JSON.stringify(client.state)}`));
    }, timeoutMs);
    const off = client.on('state', (s) => {
      if (!predicate(s)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/**
 * Active resources by type (`process.getActiveResourcesInfo()`), for leak
 * checks. Vitest's own worker keeps a few handles, so tests compare before/after.
 */
export function resources(remotePort?: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) {
    // Sockets are counted on the client side only (see clientSockets).
    if (name !== 'TCPSocketWrap') counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const sockets = clientSockets(remotePort);
  if (sockets > 0) counts.set('client TCP socket', sockets);
  return counts;
}

/** Resource types that grew between two snapshots. */
export function grown(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of after) if (n > (before.get(name) ?? 0)) out[name] = n - (before.get(name) ?? 0);
  return out;
}

/** Waits until no resource type grew since `before` (sockets close asynchronously), bounded. */
export async function settledResources(
  before: Map<string, number>,
  timeoutMs = 3000,
  remotePort?: number,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diff = grown(before, resources(remotePort));
    if (Object.keys(diff).length === 0 || Date.now() > deadline) return diff;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Bundles `source` (an ES module that may import `@tether` = src/index.ts, i.e.
 * `agent-tether`, and `@tether/server` = src/server.ts, i.e. `agent-tether/server`)
 * into `dir` and returns the file to run with `node`.
 */
export async function buildChild(dir: string, name: string, source: string): Promise<string> {
  const { build } = await import('esbuild');
  const { writeFile } = await import('node:fs/promises');
  const { join, resolve } = await import('node:path');
  const src = resolve(import.meta.dirname, '../../src');
  const result = await build({
    stdin: {
      contents: source
        .replaceAll("'@tether/server'", JSON.stringify(join(src, 'server.ts')))
        .replaceAll("'@tether'", JSON.stringify(join(src, 'index.ts'))),
      resolveDir: dir,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    external: ['bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  const out = join(dir, `${name}.mjs`);
  await writeFile(out, result.outputFiles[0]!.text);
  return out;
}

/** A running child process: its output lines as they come, and its exit. */
export interface Child {
  lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line matching `predicate`. */
  line(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code; rejects (and kills the child) after `timeoutMs`. */
  exit(timeoutMs?: number): Promise<number | null>;
  kill(): void;
}

export async function runChild(file: string, args: string[]): Promise<Child> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of [...waiters]) w();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  exited.then(() => {
    for (const w of [...waiters]) w();
  });
  return {
    lines,
    stderr: () => stderr,
    line(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`child printed no matching line in ${timeoutMs} ms; stdout ${JSON.stringify(lines)} stderr ${stderr}`));
        }, timeoutMs);
        const check = () => {
          const found = lines.find(predicate);
          if (found !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(found);
          } else if (exitCode !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`child exited (${exitCode}) without a matching line; stdout ${JSON.stringify(lines)} stderr ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async exit(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`child did not exit within ${timeoutMs} ms; stdout ${JSON.stringify(lines)} stderr ${stderr}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => void child.kill('SIGKILL'),
  };
}
