/**
 * A loopback TCP proxy that injects network faults between a client and a
 * server: resets, ends without a WebSocket close frame, stalls (half-open
 * connections), sliced writes, latency, refused WebSocket upgrades and
 * SSE-buffering middleboxes. It is what agent-tether's own integration tests
 * put between the client and the reference server.
 *
 * Two kinds of control:
 * - **one-shot actions** (`reset`, `endAll`) act on the connections open now;
 * - **modes** (`stall`, `sliceWrites`, `delay`, `refuseWebSocket`, `bufferSse`,
 *   `refuseConnections`) stay in force until changed, and apply to open *and*
 *   future connections. `heal()` turns every mode off.
 */
import { createServer as createNetServer, connect, type Server, type Socket } from 'node:net';
import { ProxyConnection, type ConnectionHost, type FaultState, type ProxyConnectionKind, type ProxyDirection } from './proxy-connection.js';
import type { ProxyRequest } from './request-sniffer.js';
import { describeValue } from '../internal/describe-value.js';
import { httpUrl, listenOn } from './listen-loopback.js';
import { resolveOptions, type FaultProxyOptions, type ResolvedFaultProxyOptions } from './fault-proxy-options.js';

export { ProxyConnection } from './proxy-connection.js';
export type { DirectionStats, ProxyConnectionKind, ProxyDirection } from './proxy-connection.js';
export type { ProxyRequest } from './request-sniffer.js';
export { FAULT_PROXY_DEFAULTS, type FaultProxyOptions, type FaultProxyTarget, type ResolvedFaultProxyOptions } from './fault-proxy-options.js';

/** Which direction(s) `stall` affects. */
export type StallDirection = ProxyDirection | 'both';

/** Counters over the proxy's life. */
export interface FaultProxyStats {
  /** Connections accepted and forwarded. */
  accepted: number;
  /** Connections reset on arrival by `refuseConnections`. */
  refused: number;
  /** WebSocket upgrade requests answered with 403 by `refuseWebSocket`. */
  refusedUpgrades: number;
}

/** Events of the fault proxy; `on()` returns an unsubscribe function. */
export interface FaultProxyEvents {
  /** A connection was accepted and is being forwarded. */
  connection: (connection: ProxyConnection) => void;
  /** An HTTP request head passed the proxy (after `connection.kind` was updated). */
  request: (connection: ProxyConnection, request: ProxyRequest) => void;
  /** Both sockets of a connection are closed. */
  disconnect: (connection: ProxyConnection) => void;
}

/** What {@link FaultProxy.nextConnection} waits for. */
export interface NextConnectionOptions {
  /**
   * Wait for a connection of this kind (decided by its first request), e.g.
   * `'websocket'` or `'sse'`. Without it, the next accepted connection.
   */
  kind?: Exclude<ProxyConnectionKind, 'unknown'>;
  /** Rejects with a `TimeoutError`-named `Error` after this long. */
  timeoutMs?: number;
  /** Rejects with `signal.reason` when aborted. */
  signal?: AbortSignal;
}

/**
 * A fault-injecting loopback TCP proxy. Create with {@link createFaultProxy}.
 *
 * @example
 * await using proxy = await createFaultProxy({ target: server.url }).listen();
 * const client = createClient({ baseUrl: proxy.url });
 * proxy.refuseWebSocket(true);   // the client must fall back to SSE
 * proxy.reset();                 // cut every open connection (ECONNRESET)
 */
export class FaultProxy implements AsyncDisposable {
  readonly options: Readonly<ResolvedFaultProxyOptions>;
  readonly #faults: FaultState = {
    stall: { up: false, down: false },
    sliceBytes: null,
    sliceDelayMs: 0,
    delayMs: 0,
    refuseWebSocket: false,
    bufferSse: false,
  };
  #refuseConnections = false;
  #server: Server | undefined;
  #port: number | undefined;
  #closing: Promise<void> | undefined;
  #connections = new Set<ProxyConnection>();
  #stray = new Set<Socket>();
  #nextId = 1;
  #stats: FaultProxyStats = { accepted: 0, refused: 0, refusedUpgrades: 0 };
  #listeners: { [K in keyof FaultProxyEvents]: Set<FaultProxyEvents[K]> } = {
    connection: new Set(),
    request: new Set(),
    disconnect: new Set(),
  };

  constructor(options: FaultProxyOptions) {
    this.options = resolveOptions(options);
  }

  /**
   * Starts listening. Resolves with the proxy itself, so creation and listening chain.
   *
   * @example
   * const proxy = await createFaultProxy({ target: 'http://127.0.0.1:4317' }).listen();
   */
  async listen(): Promise<this> {
    if (this.#closing) throw new Error('FaultProxy: listen() after close()');
    if (this.#server) throw new Error('FaultProxy: already listening');
    const server = createNetServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
    this.#server = server;
    this.#port = await listenOn(server, this.options.port, this.options.host);
    return this;
  }

  /** Whether the proxy is listening. */
  get listening(): boolean {
    return this.#server?.listening === true && this.#closing === undefined;
  }

  /** The port it listens on. Throws before `listen()` resolved. */
  get port(): number {
    if (this.#port === undefined) throw new Error('FaultProxy: not listening yet; await proxy.listen() first');
    return this.#port;
  }

  /** `http://host:port` of the proxy: use it as the client's `baseUrl`. */
  get url(): string {
    return httpUrl(this.options.host, this.port);
  }

  /** The connections open now, oldest first. */
  get connections(): readonly ProxyConnection[] {
    return [...this.#connections];
  }

  /** Counters over the proxy's life. */
  get stats(): Readonly<FaultProxyStats> {
    return { ...this.#stats };
  }

  /**
   * Subscribes to an event. Returns the unsubscribe function.
   *
   * @example
   * const off = proxy.on('request', (conn, req) => console.log(conn.id, req.method, req.path));
   */
  on<K extends keyof FaultProxyEvents>(event: K, listener: FaultProxyEvents[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /**
   * Resolves with the next connection accepted after this call — or, with
   * `kind`, the connection carrying the next request of that kind (a new
   * WebSocket upgrade, a new SSE stream) — so tests await instead of sleeping.
   *
   * @example
   * const next = proxy.nextConnection({ kind: 'websocket' });
   * proxy.reset();
   * await next; // the client reconnected
   */
  nextConnection(options: NextConnectionOptions = {}): Promise<ProxyConnection> {
    const { kind, timeoutMs, signal } = options;
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        offConnection();
        offRequest();
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const settle = (connection: ProxyConnection) => {
        cleanup();
        resolve(connection);
      };
      const onAbort = () => {
        cleanup();
        reject(signal?.reason);
      };
      const offConnection = this.on('connection', (connection) => {
        if (kind === undefined) settle(connection);
      });
      const offRequest = this.on('request', (connection) => {
        if (kind !== undefined && connection.kind === kind) settle(connection);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          const error = new Error(`FaultProxy: no ${kind ?? ''} connection within ${timeoutMs} ms`.replace('  ', ' '));
          error.name = 'TimeoutError';
          reject(error);
        }, timeoutMs);
      }
    });
  }

  /* ---------------------------- one-shot actions ---------------------------- */

  /**
   * Destroys the open connections (all, or those `filter` accepts) with a TCP
   * RST: both the client and the target see `ECONNRESET`. Future connections
   * are unaffected. Returns how many were reset.
   *
   * @example
   * proxy.reset((conn) => conn.kind === 'sse');
   */
  reset(filter?: (connection: ProxyConnection) => boolean): number {
    return this.#each(filter, (connection) => connection.reset());
  }

  /**
   * Ends the open connections (all, or those `filter` accepts) with a FIN on
   * both sides and no WebSocket close frame: a WebSocket client sees close code
   * 1006; an SSE or long-poll response ends mid-stream. Queued bytes are
   * dropped. Future connections are unaffected. Returns how many were ended.
   *
   * @example
   * proxy.endAll((conn) => conn.kind === 'websocket');
   */
  endAll(filter?: (connection: ProxyConnection) => boolean): number {
    return this.#each(filter, (connection) => connection.end());
  }

  /* ---------------------------------- modes --------------------------------- */

  /**
   * Stops (or resumes) forwarding bytes, on open and future connections,
   * without closing anything: to the client the connection looks alive but
   * silent — half-open. Held bytes are kept (up to `maxBufferedBytes`, then
   * TCP backpressure) and delivered in order when the stall lifts.
   *
   * @param direction `'up'` (client → target), `'down'` (target → client) or `'both'`.
   * @default direction 'both'
   * @example
   * proxy.stall(true);  // heartbeats stop arriving: the client must notice
   * proxy.stall(false); // everything held flows again
   */
  stall(on: boolean, direction: StallDirection = 'both'): void {
    if (typeof on !== 'boolean') throw new TypeError(`stall: \`on\` must be a boolean, got ${describeValue(on)}`);
    if (direction !== 'up' && direction !== 'down' && direction !== 'both') {
      throw new TypeError(`stall: \`direction\` must be 'up', 'down' or 'both', got ${describeValue(direction)}`);
    }
    if (direction !== 'down') this.#faults.stall.up = on;
    if (direction !== 'up') this.#faults.stall.down = on;
    this.#kick();
  }

  /**
   * Forwards bytes in slices of at most `bytes`, each its own write (and, with
   * `delayMs`, a pause between them), in both directions, on open and future
   * connections — to exercise the parsers on both ends. `null` turns it off.
   *
   * @example
   * proxy.sliceWrites(1, { delayMs: 1 }); // one byte at a time
   */
  sliceWrites(bytes: number | null, options: { delayMs?: number } = {}): void {
    if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes >= 1)) {
      throw new TypeError(`sliceWrites: \`bytes\` must be a positive integer or null, got ${describeValue(bytes)}`);
    }
    const delayMs = options.delayMs ?? 0;
    if (!(Number.isFinite(delayMs) && delayMs >= 0)) {
      throw new TypeError(`sliceWrites: \`delayMs\` must be a non-negative number, got ${describeValue(delayMs)}`);
    }
    this.#faults.sliceBytes = bytes;
    this.#faults.sliceDelayMs = bytes === null ? 0 : delayMs;
    this.#kick();
  }

  /**
   * Holds every chunk for `ms` after it arrived before forwarding it (latency;
   * order kept), both directions, open and future connections. `null` or `0`
   * turns it off.
   *
   * @example
   * proxy.delay(200);
   */
  delay(ms: number | null): void {
    if (ms !== null && !(Number.isFinite(ms) && ms >= 0)) {
      throw new TypeError(`delay: \`ms\` must be a non-negative number or null, got ${describeValue(ms)}`);
    }
    this.#faults.delayMs = ms ?? 0;
    this.#kick();
  }

  /**
   * While on, an HTTP request with `Upgrade: websocket` is answered by the
   * proxy with `403 Forbidden` and the connection closed; the target never sees
   * it. Plain HTTP and SSE pass. Applies to every request seen from now on
   * (established WebSockets are unaffected: cut them with `reset`/`endAll`).
   *
   * @example
   * proxy.refuseWebSocket(true); // the WebSocket transport can never open
   */
  refuseWebSocket(on: boolean): void {
    if (typeof on !== 'boolean') throw new TypeError(`refuseWebSocket: \`on\` must be a boolean, got ${describeValue(on)}`);
    this.#faults.refuseWebSocket = on;
  }

  /**
   * While on, acts like a buffering middlebox for Server-Sent Events: on a
   * `GET` with `Accept: text/event-stream` (or to a path ending in `/events`)
   * the response head passes, but its body is withheld — on open SSE streams
   * from now on, and on future ones. Turning it off releases everything held,
   * in order.
   *
   * @example
   * proxy.bufferSse(true); // SSE opens (200) but no event ever arrives
   */
  bufferSse(on: boolean): void {
    if (typeof on !== 'boolean') throw new TypeError(`bufferSse: \`on\` must be a boolean, got ${describeValue(on)}`);
    this.#faults.bufferSse = on;
    this.#kick();
  }

  /**
   * While on, every new connection is reset (RST) as soon as it is accepted,
   * without contacting the target — the server looks down. Open connections
   * are unaffected.
   *
   * @example
   * proxy.refuseConnections(true);
   * proxy.reset();                 // now the client cannot get back in
   */
  refuseConnections(on: boolean): void {
    if (typeof on !== 'boolean') throw new TypeError(`refuseConnections: \`on\` must be a boolean, got ${describeValue(on)}`);
    this.#refuseConnections = on;
  }

  /** Turns every mode off (stall, slicing, delay, refusals, SSE buffering); held bytes flow. */
  heal(): void {
    this.#faults.stall.up = false;
    this.#faults.stall.down = false;
    this.#faults.sliceBytes = null;
    this.#faults.sliceDelayMs = 0;
    this.#faults.delayMs = 0;
    this.#faults.refuseWebSocket = false;
    this.#faults.bufferSse = false;
    this.#refuseConnections = false;
    this.#kick();
  }

  /**
   * Stops listening and destroys every connection; resolves once all sockets
   * and the listener are closed, leaving no handles. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const server = this.#server;
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    const connections = [...this.#connections];
    for (const connection of connections) connection.destroy();
    for (const socket of this.#stray) socket.destroy();
    await Promise.all([closed, ...connections.map((c) => c.closed), ...[...this.#stray].map(waitClosed)]);
  }

  #accept(client: Socket): void {
    if (this.#closing) {
      client.destroy();
      return;
    }
    if (this.#refuseConnections) {
      this.#stats.refused++;
      this.#stray.add(client);
      client.on('error', () => {});
      client.once('close', () => this.#stray.delete(client));
      client.resetAndDestroy();
      return;
    }
    this.#stats.accepted++;
    const { target } = this.options;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const host: ConnectionHost = {
      faults: this.#faults,
      maxBufferedBytes: this.options.maxBufferedBytes,
      onRequest: (connection, request) => {
        if (connection.kind === 'websocket' && this.#faults.refuseWebSocket) this.#stats.refusedUpgrades++;
        this.#emit('request', connection, request);
      },
      onClosed: (connection) => {
        this.#connections.delete(connection);
        this.#emit('disconnect', connection);
      },
    };
    const connection = new ProxyConnection(this.#nextId++, client, upstream, host);
    this.#connections.add(connection);
    this.#emit('connection', connection);
  }

  #emit<K extends keyof FaultProxyEvents>(event: K, ...args: Parameters<FaultProxyEvents[K]>): void {
    for (const listener of [...this.#listeners[event]]) {
      try {
        (listener as (...a: Parameters<FaultProxyEvents[K]>) => void)(...args);
      } catch {
        // A throwing test listener must not break forwarding.
      }
    }
  }

  #each(filter: ((connection: ProxyConnection) => boolean) | undefined, act: (c: ProxyConnection) => void): number {
    if (filter !== undefined && typeof filter !== 'function') {
      throw new TypeError(`\`filter\` must be a function, got ${describeValue(filter)}`);
    }
    let count = 0;
    for (const connection of [...this.#connections]) {
      if (filter && !filter(connection)) continue;
      act(connection);
      count++;
    }
    return count;
  }

  #kick(): void {
    for (const connection of this.#connections) connection.kick();
  }
}

/**
 * Creates a fault-injecting TCP proxy in front of `target`. Call `listen()`
 * (it resolves with the proxy), point the client at `proxy.url`, and inject
 * faults with its controls. Dispose with `close()` or `await using`.
 *
 * @example
 * import { createFaultProxy } from 'agent-tether/testing';
 *
 * await using proxy = await createFaultProxy({ target: server.url }).listen();
 * await using client = createClient({ baseUrl: proxy.url });
 * // … start a turn, then:
 * proxy.endAll();        // WebSocket dies without a close frame (1006)
 * proxy.stall(true);     // or: a half-open connection
 */
export function createFaultProxy(options: FaultProxyOptions): FaultProxy {
  return new FaultProxy(options);
}

function waitClosed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}
