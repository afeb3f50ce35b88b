import { vi } from 'vitest';
import { createClientWith, type Client, type ClientHooks } from '../../src/client/client.js';
import type { ClientOptions } from '../../src/client/options.js';
import { ConnectionError } from '../../src/errors/index.js';
import type { ResetInfo, SessionEvent, TurnInfo } from '../../src/protocol/index.js';
import type {
  CommandFrame,
  Cursor,
  Transport,
  TransportCloseInfo,
  TransportEvents,
  TransportName,
  TransportOptions,
} from '../../src/transport/transport.js';

/** A transport the test drives by hand. */
export class FakeTransport implements Transport {
  readonly name: TransportName;
  readonly options: TransportOptions;
  readonly events: TransportEvents;
  readonly subscriptions = new Map<string, Cursor>();
  readonly subscribeCalls: Array<{ sessionId: string; cursor: Cursor }> = [];
  readonly commands: Array<{ frame: CommandFrame; resolve(v: unknown): void; reject(e: unknown): void }> = [];
  closedByClient = false;
  closeTimeoutMs: number | undefined;
  command?: (frame: CommandFrame, signal?: AbortSignal) => Promise<unknown>;

  constructor(name: TransportName, options: TransportOptions, events: TransportEvents) {
    this.name = name;
    this.options = options;
    this.events = events;
    if (name === 'websocket') {
      this.command = (frame) =>
        new Promise((resolve, reject) => {
          this.commands.push({ frame, resolve, reject });
        });
    }
  }

  subscribe(sessionId: string, cursor: Cursor): void {
    this.subscriptions.set(sessionId, cursor);
    this.subscribeCalls.push({ sessionId, cursor });
  }

  unsubscribe(sessionId: string): void {
    this.subscriptions.delete(sessionId);
  }

  async close(timeoutMs?: number): Promise<void> {
    this.closedByClient = true;
    this.closeTimeoutMs = timeoutMs;
  }

  /* Test controls */
  open(): void {
    this.events.open();
  }
  push(sessionId: string, events: SessionEvent[]): void {
    this.events.events(sessionId, events);
  }
  reset(info: ResetInfo): void {
    this.events.reset(info);
  }
  drop(info: Partial<TransportCloseInfo> = {}): void {
    this.events.closed({ opened: false, ...info });
    for (const c of this.commands.splice(0)) c.reject(new ConnectionError('socket closed'));
  }
}

export function fakeTransports() {
  const created: FakeTransport[] = [];
  const createTransport = (name: TransportName, options: TransportOptions, events: TransportEvents) => {
    const t = new FakeTransport(name, options, events);
    created.push(t);
    return t;
  };
  return {
    created,
    createTransport,
    get last(): FakeTransport {
      const t = created.at(-1);
      if (!t) throw new Error('no transport created');
      return t;
    },
  };
}

/** Builds events of one session with consecutive seqs. */
export function ev(seq: number, type: string, turnId: string | undefined, extra: Record<string, unknown> = {}, epoch = 'e1'): SessionEvent {
  return { type, sessionId: 's1', seq, epoch, time: 1000 + seq, ...(turnId ? { turnId } : {}), ...extra } as SessionEvent;
}

export const queued = (seq: number, turnId: string, prompt = 'hi') => ev(seq, 'turn.queued', turnId, { prompt });
export const started = (seq: number, turnId: string) => ev(seq, 'turn.started', turnId);
export const delta = (seq: number, turnId: string, text: string) => ev(seq, 'turn.delta', turnId, { text });
export const completed = (seq: number, turnId: string, output: string) => ev(seq, 'turn.completed', turnId, { output });
export const canceled = (seq: number, turnId: string, canceledBy = 'other') =>
  ev(seq, 'turn.canceled', turnId, { canceledBy, reason: 'user' });

export function turnInfo(id: string, queuedSeq: number, extra: Partial<TurnInfo> = {}): TurnInfo {
  return { id, sessionId: 's1', status: 'queued', prompt: 'hi', createdAt: 1, queuedSeq, ...extra };
}

export interface FetchCall {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

type Route = (call: FetchCall) => Response | Promise<Response>;

/** A `fetch` that answers from a route table and records every call. */
export function fakeFetch(routes: Record<string, Route>) {
  const calls: FetchCall[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const call: FetchCall = {
      method,
      path: url.pathname,
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const route = routes[`${method} ${url.pathname}`];
    if (!route) return json(404, { error: { code: 'not_found', message: 'no route', status: 404 } });
    const signal = init?.signal;
    if (signal?.aborted) throw signal.reason;
    return await new Promise<Response>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      Promise.resolve(route(call)).then(resolve, reject);
    });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A client wired to fake transports and a fake fetch. */
export function makeClient(
  options: Partial<ClientOptions> = {},
  hooks: ClientHooks = {},
  routes: Record<string, Route> = {},
) {
  const transports = fakeTransports();
  const http = fakeFetch(routes);
  const states: string[] = [];
  const errors: Error[] = [];
  const client: Client = createClientWith(
    { baseUrl: 'http://tether.test', clientId: 'me', fetch: http.fetch, ...options },
    // The HTTP bridge of a turn accepted while connecting is off by default here (tests count HTTP calls); its own tests turn it on.
    { createTransport: transports.createTransport, random: () => 0.5, bridgeFirstEvents: false, ...hooks },
  );
  client.on('state', (s) => states.push(s.status + ('transport' in s && s.transport ? `:${s.transport}` : '') + (s.status === 'reconnecting' ? `#${s.attempt}` : '')));
  client.on('error', (e) => errors.push(e));
  return { client, transports, http, states, errors };
}

/** Let promise chains settle (no timers involved). */
export async function flush(times = 10): Promise<void> {
  for (let i = 0; i < times; i++) await Promise.resolve();
}

export function useFakeTime() {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
}

/** Pull `n` items from an async iterator. */
export async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}
