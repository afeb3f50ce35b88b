import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { createServer, type ServerOptions, type TetherServer } from '../../src/server.js';
import type { AgentChunk, AgentInput, TetherCore } from '../../src/server.js';
import type { ResetInfo, SessionEvent } from '../../src/protocol/index.js';

/* ------------------------------------------------------------------ *
 * Teardown: everything a test opens is closed after it.
 * ------------------------------------------------------------------ */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
export function onTeardown(fn: () => unknown): void {
  cleanups.push(fn);
}

export const silentLogger = {};

/** Wait until the session's log (read through the core's cursor) holds events matching `predicate`; returns them all. */
export async function until(c: TetherCore, sessionId: string, predicate: (events: SessionEvent[]) => boolean): Promise<SessionEvent[]> {
  const cursor = (await c.cursor(sessionId, { after: 0 }))!;
  const seen: SessionEvent[] = [];
  for (;;) {
    seen.push(...cursor.take({ maxEvents: 1000 }).entries.map((e) => e.event));
    if (predicate(seen)) return seen;
    await cursor.wait();
  }
}

/** Start a server on 127.0.0.1:0, closed after the test. */
export async function startServer(options: Partial<ServerOptions> & Pick<ServerOptions, 'agent'>): Promise<{ server: TetherServer; url: string }> {
  const server = createServer({ logger: silentLogger, ...options });
  onTeardown(() => server.close({ timeoutMs: 2000 }));
  const { url } = await server.listen(0, '127.0.0.1');
  return { server, url };
}

/* ------------------------------------------------------------------ *
 * A scripted agent the test drives chunk by chunk.
 * ------------------------------------------------------------------ */

/** One turn of a {@link scriptedAgent}, driven by the test. */
export class Run {
  readonly input: AgentInput;
  #queue: Array<{ chunk?: AgentChunk; end?: true; error?: unknown }> = [];
  #wake: (() => void) | undefined;
  /** When true, the run keeps going after its signal aborts (an agent that ignores cancel). */
  ignoreSignal = false;
  /** Resolves when the agent's iteration ended (returned, threw or was returned by the server). */
  readonly finished: Promise<void>;
  #finish!: () => void;

  constructor(input: AgentInput) {
    this.input = input;
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    input.signal.addEventListener('abort', () => this.#wake?.());
  }
  delta(text: string): void {
    this.#push({ chunk: { type: 'delta', text } });
  }
  item(item: Record<string, unknown>): void {
    this.#push({ chunk: { type: 'item', item } });
  }
  end(): void {
    this.#push({ end: true });
  }
  fail(error: unknown): void {
    this.#push({ error });
  }
  #push(entry: { chunk?: AgentChunk; end?: true; error?: unknown }): void {
    this.#queue.push(entry);
    this.#wake?.();
  }
  async *iterate(): AsyncGenerator<AgentChunk> {
    try {
      for (;;) {
        if (this.input.signal.aborted && !this.ignoreSignal) return;
        const next = this.#queue.shift();
        if (!next) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
          continue;
        }
        if (next.end) return;
        if (next.error !== undefined) throw next.error;
        yield next.chunk!;
      }
    } finally {
      this.#finish();
    }
  }
}

/** An agent whose turns the test drives: `await agent.next()` gives the next started run. */
export function scriptedAgent() {
  const runs: Run[] = [];
  const waiting: Array<(run: Run) => void> = [];
  let taken = 0;
  const agent = (input: AgentInput) => {
    const run = new Run(input);
    runs.push(run);
    const waiter = waiting.shift();
    if (waiter) {
      taken++;
      waiter(run);
    }
    return run.iterate();
  };
  return {
    agent,
    runs,
    /** The next run to start (in start order). */
    next(): Promise<Run> {
      if (taken < runs.length) return Promise.resolve(runs[taken++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** Resolves when the session's log (read through the core's cursor) holds an event matching `predicate`. */
export async function logUntil(server: TetherServer, sessionId: string, predicate: (event: SessionEvent) => boolean): Promise<void> {
  const cursor = (await server.core.cursor(sessionId, { after: 0 }))!;
  for (;;) {
    if (cursor.take({ maxEvents: 100_000 }).entries.some((entry) => predicate(entry.event))) return;
    await cursor.wait();
  }
}

/** Re-check `predicate` on every loop turn until it holds (for state without an event to await). */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/* ------------------------------------------------------------------ *
 * HTTP
 * ------------------------------------------------------------------ */

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export async function createSession(url: string): Promise<string> {
  const { status, body } = await api(url, 'POST', '/v1/sessions', {});
  if (status !== 201) throw new Error(`createSession: ${status}`);
  return body.session.id as string;
}

export async function prompt(url: string, sessionId: string, text: string, clientId = 'tester', key?: string) {
  const headers: Record<string, string> = { 'x-tether-client': clientId };
  if (key) headers['idempotency-key'] = key;
  return api(url, 'POST', `/v1/sessions/${sessionId}/turns`, { prompt: text }, headers);
}

export async function cancel(url: string, sessionId: string, turnId: string, clientId = 'tester', reason?: string) {
  return api(url, 'POST', `/v1/sessions/${sessionId}/turns/${turnId}/cancel`, reason === undefined ? {} : { reason }, {
    'x-tether-client': clientId,
  });
}

/* ------------------------------------------------------------------ *
 * Collectors with awaitable conditions
 * ------------------------------------------------------------------ */

class Waitable {
  #checks = new Set<() => void>();
  protected changed(): void {
    for (const check of [...this.#checks]) check();
  }
  /** Resolves once `predicate()` holds; rejects after `timeoutMs` (a test failure, not a synchronization). */
  until(predicate: () => boolean, what = 'condition', timeoutMs = 20_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#checks.delete(check);
        reject(new Error(`Timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#checks.delete(check);
        resolve();
      };
      this.#checks.add(check);
    });
  }
}

export const isTerminalType = (type: string) => type === 'turn.completed' || type === 'turn.canceled' || type === 'turn.error';

/** Text of a turn's deltas among `events`. */
export function deltaText(events: SessionEvent[], turnId?: string): string {
  return events
    .filter((e) => e.type === 'turn.delta' && (turnId === undefined || e.turnId === turnId))
    .map((e) => (e as { text: string }).text)
    .join('');
}

/** A raw SSE reader on node:http (so the test can pause its socket). */
export class SseReader extends Waitable {
  events: SessionEvent[] = [];
  resets: ResetInfo[] = [];
  ids: number[] = [];
  pings = 0;
  retry: number | undefined;
  ended = false;
  status = 0;
  response: IncomingMessage | undefined;
  #buffer = '';
  #req;

  constructor(url: string, headers: Record<string, string> = {}) {
    super();
    this.#req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
    this.#req.on('response', (res) => {
      this.response = res;
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.#onData(chunk));
      res.on('end', () => {
        this.ended = true;
        this.changed();
      });
      res.on('error', () => {});
      this.changed();
    });
    this.#req.on('error', () => {
      this.ended = true;
      this.changed();
    });
    this.#req.end();
    onTeardown(() => this.close());
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let start = 0;
    let index;
    while ((index = this.#buffer.indexOf('\n\n', start)) >= 0) {
      const block = this.#buffer.slice(start, index);
      start = index + 2;
      let event = 'message';
      let data = '';
      let id: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith(': ping')) this.pings++;
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (!data) continue;
      if (event === 'reset') this.resets.push(JSON.parse(data));
      else {
        const parsed = JSON.parse(data);
        this.events.push(parsed);
        this.ids.push(Number(id));
        if (parsed.turnId && isTerminalType(parsed.type)) this.#terminals.set(parsed.turnId, parsed);
      }
    }
    this.#buffer = this.#buffer.slice(start);
    this.changed();
  }

  pause(): void {
    this.response?.socket.pause();
    this.response?.pause();
  }
  resume(): void {
    this.response?.socket.resume();
    this.response?.resume();
  }
  #terminals = new Map<string, SessionEvent>();
  terminal(turnId: string): SessionEvent | undefined {
    return this.#terminals.get(turnId);
  }
  close(): void {
    this.#req.destroy();
  }
}

/** A WebSocket test client collecting frames. */
export class WsClient extends Waitable {
  readonly ws: WebSocket;
  frames: any[] = [];
  events: SessionEvent[] = [];
  resets: any[] = [];
  closeCode: number | undefined;
  closed = false;
  opened = false;
  #nextId = 0;

  constructor(url: string, clientId = 'ws-client', options: WebSocket.ClientOptions = {}) {
    super();
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?clientId=${encodeURIComponent(clientId)}`, options);
    this.ws.on('open', () => {
      this.opened = true;
      this.changed();
    });
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      this.frames.push(frame);
      if (frame.type === 'events') {
        for (const event of frame.events) {
          this.events.push(event);
          if (event.turnId && isTerminalType(event.type)) this.#terminals.set(event.turnId, event);
        }
      }
      if (frame.type === 'reset') this.resets.push(frame);
      this.changed();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      this.closed = true;
      this.changed();
    });
    this.ws.on('error', () => {});
    onTeardown(() => this.ws.terminate());
  }

  welcomed(): Promise<void> {
    return this.until(() => this.frames.some((f) => f.type === 'welcome'), 'welcome');
  }

  /** Send a request frame and await its reply. */
  async request(frame: Record<string, unknown>): Promise<any> {
    const id = `r${++this.#nextId}`;
    await this.welcomed();
    this.ws.send(JSON.stringify({ ...frame, id }));
    await this.until(() => this.frames.some((f) => f.type === 'reply' && f.id === id), `reply ${id}`);
    return this.frames.find((f) => f.type === 'reply' && f.id === id);
  }

  #terminals = new Map<string, SessionEvent>();
  terminal(turnId: string): SessionEvent | undefined {
    return this.#terminals.get(turnId);
  }
}

/** Resolves when `emitter` emits `event`. */
export function once<T = unknown>(emitter: { once(event: string, fn: (value: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}
