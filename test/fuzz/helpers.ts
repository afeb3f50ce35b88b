/**
 * Fuzzing helpers: drive one transport attempt with bytes the test controls
 * and record what it reports. A transport may deliver events, report a reset,
 * or end with `closed({ error })` where `error` is a `TetherError`; anything
 * else (a throw, an unhandled rejection, a non-typed error, a hang) fails.
 */
import { TetherError } from '../../src/index.js';
import { systemClock } from '../../src/internal/clock.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import type { TransportCloseInfo, TransportEvents, TransportOptions } from '../../src/transport/index.js';

/** Records every callback of one transport attempt. */
export class Recorder implements TransportEvents {
  opened = 0;
  readonly delivered: SessionEvent[] = [];
  readonly resets: unknown[] = [];
  readonly closes: TransportCloseInfo[] = [];
  readonly whenClosed: Promise<TransportCloseInfo>;
  #resolve!: (info: TransportCloseInfo) => void;

  constructor() {
    this.whenClosed = new Promise((resolve) => (this.#resolve = resolve));
  }

  open(): void {
    this.opened += 1;
  }
  events(_sessionId: string, list: SessionEvent[]): void {
    this.delivered.push(...list);
  }
  reset(info: unknown): void {
    this.resets.push(info);
  }
  readonly ended: Array<{ sessionId: string; error: unknown }> = [];
  sessionEnded(sessionId: string, error: unknown): void {
    this.ended.push({ sessionId, error });
  }
  closed(info: TransportCloseInfo): void {
    this.closes.push(info);
    this.#resolve(info);
  }
}

export function recorder(): Recorder {
  return new Recorder();
}

export function transportOptions(overrides: Partial<TransportOptions>): TransportOptions {
  return {
    baseUrl: new URL('http://fuzz.test/'),
    clientId: 'fuzz',
    getHeaders: async () => ({}),
    fetch: () => Promise.reject(new Error('no fetch')),
    WebSocket: globalThis.WebSocket as never,
    clock: systemClock,
    heartbeatTimeoutMs: 2000,
    openTimeoutMs: 2000,
    pollWaitMs: 100,
    ...overrides,
  };
}

/** A `fetch` that answers with `chunks` exactly as given (one `enqueue` per chunk), then ends the body. */
export function chunkedResponse(chunks: Uint8Array[], init: { status?: number; contentType?: string } = {}): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
  return new Response(body, {
    status: init.status ?? 200,
    headers: { 'content-type': init.contentType ?? 'text/event-stream' },
  });
}

/** Splits `bytes` at the given cut points (sorted, deduped, in range). */
export function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < bytes.length) out.push(bytes.subarray(from));
  return out;
}

/** The assertion every fuzz case ends with: ended only by a typed error. */
export function assertTypedClose(info: TransportCloseInfo): void {
  if (info.error !== undefined && !(info.error instanceof TetherError)) {
    throw new Error(`closed() with an untyped error: ${String(info.error)}`);
  }
  if (info.error === undefined) throw new Error('closed() without an error');
  if (typeof info.error.code !== 'string' || info.error.code === '') throw new Error('error without a code');
}

/** A valid session event for session `s1`. */
export function event(seq: number, extra: Record<string, unknown> = {}): SessionEvent {
  return {
    type: 'turn.delta',
    sessionId: 's1',
    seq,
    epoch: 'e1',
    time: 1_700_000_000_000 + seq,
    turnId: 't1',
    text: `δ${seq} ✓`,
    ...extra,
  } as unknown as SessionEvent;
}

/** Rejects after `ms` with a message naming what hung. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what} after ${ms} ms`)), ms))),
  ]);
}
