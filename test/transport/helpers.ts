import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'isomorphic-ws';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { Clock } from '../../src/internal/clock.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import type {
  TransportCloseInfo,
  TransportEvents,
  TransportOptions,
  WebSocketConstructor,
} from '../../src/transport/index.js';

/** A clock driven by the test: timers fire only on `advance()`. */
export class FakeClock implements Clock {
  #now = 1_700_000_000_000;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Timers still scheduled (a closed transport must leave none, F7). */
  get pending(): number {
    return this.#timers.size;
  }
  /**
   * The delays of the timers still scheduled, soonest first. A test waits for the
   * timer it means to fire to be scheduled before it advances: code reacting to
   * real I/O schedules it at a moment the test cannot otherwise know.
   */
  scheduled(): number[] {
    return [...this.#timers.values()].map((timer) => timer.at - this.#now).sort((a, b) => a - b);
  }
  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: { at: number; fn: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= end && (next === undefined || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }
}

type Call =
  | { kind: 'open' }
  | { kind: 'events'; sessionId: string; events: SessionEvent[] }
  | { kind: 'reset'; info: unknown }
  | { kind: 'sessionEnded'; sessionId: string; error: unknown }
  | { kind: 'closed'; info: TransportCloseInfo };

/** Records every `TransportEvents` call, in order. */
export class Recorder implements TransportEvents {
  readonly calls: Call[] = [];
  #waiters: Array<() => void> = [];

  open(): void {
    this.#push({ kind: 'open' });
  }
  events(sessionId: string, events: SessionEvent[]): void {
    this.#push({ kind: 'events', sessionId, events: [...events] });
  }
  reset(info: unknown): void {
    this.#push({ kind: 'reset', info });
  }
  sessionEnded(sessionId: string, error: unknown): void {
    this.#push({ kind: 'sessionEnded', sessionId, error });
  }
  closed(info: TransportCloseInfo): void {
    this.#push({ kind: 'closed', info });
  }

  get opened(): boolean {
    return this.calls.some((c) => c.kind === 'open');
  }
  get closedCalls(): TransportCloseInfo[] {
    return this.calls.flatMap((c) => (c.kind === 'closed' ? [c.info] : []));
  }
  /** Every event delivered, flattened. */
  get delivered(): SessionEvent[] {
    return this.calls.flatMap((c) => (c.kind === 'events' ? c.events : []));
  }
  get resets(): unknown[] {
    return this.calls.flatMap((c) => (c.kind === 'reset' ? [c.info] : []));
  }

  /** Resolves once `predicate` holds (checked after every call), or rejects after `ms`. */
  until(predicate: (r: Recorder) => boolean, ms = 5_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met in ${ms} ms: ${JSON.stringify(this.calls)}`)), ms);
      const check = (): void => {
        if (predicate(this)) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.#waiters.push(check);
    });
  }

  #push(call: Call): void {
    this.calls.push(call);
    for (const w of [...this.#waiters]) w();
  }
}

/** A valid `turn.delta` event. */
export function delta(sessionId: string, seq: number, text = `t${seq}`): SessionEvent {
  return { type: 'turn.delta', sessionId, seq, epoch: 'e1', time: 1, turnId: 'turn1', text };
}

export function transportOptions(
  baseUrl: string,
  clock: Clock,
  overrides: Partial<TransportOptions> = {},
): TransportOptions {
  return {
    baseUrl: new URL(baseUrl),
    clientId: 'client-1',
    getHeaders: async () => ({ Authorization: 'Bearer secret' }),
    fetch: globalThis.fetch,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    clock,
    heartbeatTimeoutMs: 30_000,
    openTimeoutMs: 5_000,
    pollWaitMs: 1_000,
    ...overrides,
  };
}

/**
 * A `fetch` whose response bodies record the text the client has read so far.
 * A test that must advance its fake clock only after the client took some bytes
 * (a `: ping` counting as traffic) waits on `read()`: the body is handed over
 * only when the client asks for it, and the client's synchronous reaction to
 * the bytes is over by the time a later macrotask checks.
 */
export function readTrackingFetch(): { fetch: typeof fetch; read: () => string } {
  let text = '';
  const decoder = new TextDecoder();
  const tracked: typeof fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    if (!response.body) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          text += decoder.decode(value, { stream: true });
          controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: tracked, read: () => text };
}

/**
 * A WebSocket constructor whose sockets count the messages they dispatched, so
 * a test knows the client has taken a frame (for the same reason as
 * {@link readTrackingFetch}).
 */
export function countingWebSocket(): { WebSocket: WebSocketConstructor; received: () => number } {
  let received = 0;
  class CountingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      // Runs in the same dispatch as the client's own `onmessage`, so both are done when a later task looks.
      this.addEventListener('message', () => received++);
    }
  }
  return { WebSocket: CountingWebSocket as unknown as WebSocketConstructor, received: () => received };
}

/** Waits for real time (only for "nothing more happened" checks). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/* ------------------------------------------------------------------ *
 * Fixture servers on 127.0.0.1:0
 * ------------------------------------------------------------------ */

export interface WsConnection {
  socket: ServerSocket;
  request: IncomingMessage;
  /** Parsed client frames, in order. */
  messages: Array<Record<string, unknown>>;
  /** Resolves with the close code the server saw. */
  closed: Promise<number>;
}

export interface WsFixture {
  url: string;
  wss: WebSocketServer;
  /** Resolves with the next server-side socket and the request that opened it. */
  next(): Promise<WsConnection>;
  close(): Promise<void>;
}

export async function wsFixture(): Promise<WsFixture> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http });
  const queue: WsConnection[] = [];
  const waiters: Array<(connection: WsConnection) => void> = [];
  wss.on('connection', (socket, request) => {
    const messages: Array<Record<string, unknown>> = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    const entry = { socket, request, messages, closed };
    const waiter = waiters.shift();
    if (waiter) waiter(entry);
    else queue.push(entry);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wss,
    next: () => {
      const entry = queue.shift();
      return entry ? Promise.resolve(entry) : new Promise((resolve) => waiters.push(resolve));
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export interface HttpFixture {
  url: string;
  server: Server;
  /** Requests seen, in order. */
  requests: IncomingMessage[];
  /** Responses whose client went away (aborted fetch) — resolved per request. */
  aborted: Promise<void>[];
  /**
   * Resolves once `n` requests have arrived. Waits on the requests themselves,
   * not on a polling deadline: a loaded machine makes them late, never missing
   * (a 1 s `vi.waitFor` here failed under load).
   */
  requested(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function httpFixture(
  handler: (req: IncomingMessage, res: ServerResponse, index: number) => void,
): Promise<HttpFixture> {
  const requests: IncomingMessage[] = [];
  const aborted: Promise<void>[] = [];
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    const index = requests.length;
    requests.push(req);
    aborted.push(new Promise((resolve) => res.on('close', () => resolve())));
    handler(req, res, index);
    for (const w of waiting.filter((w) => requests.length >= w.n)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    aborted,
    requested: (n) => (requests.length >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Server side of an SSE response: headers plus the `retry:` line, like the reference server. */
export function startSse(res: ServerResponse, retryMs: number | undefined = 2_000): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  if (retryMs !== undefined) res.write(`retry: ${retryMs}\n\n`);
}

export function sseEvent(event: unknown): string {
  return `id: ${(event as { seq: number }).seq}\ndata: ${JSON.stringify(event)}\n\n`;
}
