/**
 * A loopback TCP load balancer over several servers, for testing an app
 * against a cluster: connections are spread round-robin (or at random) over
 * the backends, and `kill(i)` drops everything on backend i as its process
 * dying would. It works at the TCP level, so HTTP keep-alive, SSE and
 * WebSocket connections all stay on the backend they first reached — the
 * way a layer-4 balancer (HAProxy in `mode tcp`, a cloud NLB) behaves.
 */
import { createServer as createNetServer, connect, type Server, type Socket } from 'node:net';
import { describeValue } from '../internal/describe-value.js';
import { httpUrl, listenOn } from './listen-loopback.js';
import { resolveLoadBalancerOptions, type LoadBalancerOptions, type ResolvedLoadBalancerOptions } from './load-balancer-options.js';

export {
  LOAD_BALANCER_DEFAULTS,
  type BalanceStrategy,
  type LoadBalancerOptions,
  type ResolvedLoadBalancerOptions,
} from './load-balancer-options.js';

/** One client connection forwarded to a backend. */
export interface BalancedConnection {
  /** 1, 2, … in order of arrival. */
  readonly id: number;
  /** Index of the backend it is forwarded to. */
  readonly backend: number;
  /** The client's port, as the balancer sees it: maps a client's socket to its backend. */
  readonly clientPort: number;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
}

/** Counters over the balancer's life. */
export interface LoadBalancerStats {
  /** Connections forwarded, per backend. */
  accepted: number[];
  /** Connections reset because no live backend accepted them. */
  refused: number;
  /** Connections a backend refused that were tried on the next one. */
  redispatched: number;
}

/** Events of the balancer; `on()` returns an unsubscribe function. */
export interface LoadBalancerEvents {
  /** A connection reached its backend and is being forwarded. */
  connection: (connection: BalancedConnection) => void;
  /** Both sockets of a forwarded connection are closed. */
  disconnect: (connection: BalancedConnection) => void;
}

interface Link extends BalancedConnection {
  client: Socket;
  upstream: Socket;
}

/**
 * A round-robin (or random) TCP load balancer. Create with {@link createLoadBalancer}.
 *
 * @example
 * await using lb = await createLoadBalancer({ backends: [a.url, b.url, c.url] }).listen();
 * const client = createClient({ baseUrl: lb.url });
 * lb.kill(1);   // every connection to backend 1 drops; new ones go to 0 and 2
 * lb.revive(1);
 */
export class LoadBalancer implements AsyncDisposable {
  readonly options: Readonly<ResolvedLoadBalancerOptions>;
  readonly #alive: boolean[];
  /** Backends taking no new connections (`drain(i)`); their open ones stay. */
  readonly #draining: boolean[];
  #cursor = 0;
  #server: Server | undefined;
  #port: number | undefined;
  #closing: Promise<void> | undefined;
  readonly #links = new Set<Link>();
  /** Client sockets waiting for a backend, and the backend sockets being dialled for them. */
  readonly #pending = new Set<Socket>();
  #nextId = 1;
  readonly #stats: LoadBalancerStats;
  readonly #listeners: { [K in keyof LoadBalancerEvents]: Set<LoadBalancerEvents[K]> } = {
    connection: new Set(),
    disconnect: new Set(),
  };

  constructor(options: LoadBalancerOptions) {
    this.options = resolveLoadBalancerOptions(options);
    this.#alive = this.options.backends.map(() => true);
    this.#draining = this.options.backends.map(() => false);
    this.#stats = { accepted: this.options.backends.map(() => 0), refused: 0, redispatched: 0 };
  }

  /**
   * Starts listening. Resolves with the balancer itself, so creation and listening chain.
   *
   * @example
   * const lb = await createLoadBalancer({ backends: [a.url, b.url] }).listen();
   */
  async listen(): Promise<this> {
    if (this.#closing) throw new Error('LoadBalancer: listen() after close()');
    if (this.#server) throw new Error('LoadBalancer: already listening');
    const server = createNetServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.#accept(socket));
    this.#server = server;
    this.#port = await listenOn(server, this.options.port, this.options.host);
    return this;
  }

  /** The port it listens on. Throws before `listen()` resolved. */
  get port(): number {
    if (this.#port === undefined) throw new Error('LoadBalancer: not listening yet; await lb.listen() first');
    return this.#port;
  }

  /** `http://host:port` of the balancer: use it as the client's `baseUrl`. */
  get url(): string {
    return httpUrl(this.options.host, this.port);
  }

  /** Whether each backend is routed to (`false` after `kill(i)`, until `revive(i)`). */
  get alive(): readonly boolean[] {
    return [...this.#alive];
  }

  /** Whether each backend is being drained (`drain(i)`, until `revive(i)`): no new connections reach it. */
  get draining(): readonly boolean[] {
    return [...this.#draining];
  }

  /** The connections open now, oldest first. */
  get connections(): readonly BalancedConnection[] {
    return [...this.#links].map(({ id, backend, clientPort, closed }) => ({ id, backend, clientPort, closed }));
  }

  /** How many connections are open now, per backend. */
  connectionCounts(): number[] {
    const counts = this.options.backends.map(() => 0);
    for (const link of this.#links) counts[link.backend]!++;
    return counts;
  }

  /** Counters over the balancer's life. */
  get stats(): Readonly<LoadBalancerStats> {
    return { ...this.#stats, accepted: [...this.#stats.accepted] };
  }

  /**
   * Subscribes to an event. Returns the unsubscribe function.
   *
   * @example
   * const off = lb.on('connection', (conn) => console.log(conn.id, '→ backend', conn.backend));
   */
  on<K extends keyof LoadBalancerEvents>(event: K, listener: LoadBalancerEvents[K]): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /**
   * Stops routing to backend `i` and destroys every connection to it: its
   * clients see their connection reset, as when the backend's process dies
   * behind a balancer that noticed. Returns how many connections it cut.
   *
   * @example
   * lb.kill(0); // clients on backend 0 reconnect and land on another one
   */
  kill(i: number): number {
    this.#checkIndex('kill', i);
    this.#alive[i] = false;
    let cut = 0;
    for (const link of [...this.#links]) {
      if (link.backend !== i) continue;
      link.upstream.destroy();
      link.client.resetAndDestroy();
      cut++;
    }
    return cut;
  }

  /**
   * Stops routing new connections to backend `i` and leaves its open ones
   * alone, as HAProxy's `drain` state or a cloud balancer's deregistration
   * delay does. A test uses it to place clients: connections opened while a
   * backend drains (and reconnects after a kill) land on the others.
   *
   * @example
   * lb.drain(0); // clients that connect or reconnect now reach backends 1 and 2
   */
  drain(i: number): void {
    this.#checkIndex('drain', i);
    this.#draining[i] = true;
  }

  /**
   * Routes new connections to backend `i` again, after `kill(i)` or
   * `drain(i)` (open connections elsewhere stay where they are).
   *
   * @example
   * lb.revive(0);
   */
  revive(i: number): void {
    this.#checkIndex('revive', i);
    this.#alive[i] = true;
    this.#draining[i] = false;
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
    const closed = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const links = [...this.#links];
    for (const link of links) {
      link.upstream.destroy();
      link.client.destroy();
    }
    const pending = [...this.#pending];
    for (const socket of pending) socket.destroy();
    await Promise.all([closed, ...links.map((l) => l.closed), ...pending.map(waitClosed)]);
  }

  #checkIndex(method: string, i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.options.backends.length)) {
      throw new TypeError(`${method}: \`i\` must be a backend index 0–${this.options.backends.length - 1}, got ${describeValue(i)}`);
    }
  }

  /** The next live backend not in `tried`, by the configured strategy; `undefined` when none is left. */
  #pick(tried: ReadonlySet<number>): number | undefined {
    const candidates = this.#alive.flatMap((alive, i) => (alive && !this.#draining[i] && !tried.has(i) ? [i] : []));
    if (candidates.length === 0) return undefined;
    if (this.options.strategy === 'random') {
      const r = this.options.random();
      const at = Math.min(candidates.length - 1, Math.max(0, Math.floor(r * candidates.length)));
      return candidates[at];
    }
    const n = this.options.backends.length;
    for (let step = 0; step < n; step++) {
      const i = (this.#cursor + step) % n;
      if (candidates.includes(i)) {
        this.#cursor = (i + 1) % n;
        return i;
      }
    }
    return undefined;
  }

  #accept(client: Socket): void {
    if (this.#closing) {
      client.destroy();
      return;
    }
    // The client stays paused (pauseOnConnect) until a backend took the connection, so
    // nothing it sent is lost when the first backend refuses and another is tried.
    this.#pending.add(client);
    client.on('error', () => {});
    client.once('close', () => this.#pending.delete(client));
    this.#dial(client, new Set());
  }

  #dial(client: Socket, tried: Set<number>): void {
    if (this.#closing || client.destroyed) return;
    const backend = this.#pick(tried);
    if (backend === undefined) {
      this.#stats.refused++;
      client.resetAndDestroy();
      return;
    }
    tried.add(backend);
    const target = this.options.backends[backend]!;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.#pending.add(upstream);
    upstream.once('close', () => this.#pending.delete(upstream));
    const onEarlyError = () => {
      upstream.destroy();
      // A backend that refuses (its process is gone) is skipped for this connection, as
      // HAProxy's `option redispatch` does: the client sees a slow connect, not a reset.
      this.#stats.redispatched++;
      this.#dial(client, tried);
    };
    upstream.once('error', onEarlyError);
    upstream.once('connect', () => {
      upstream.off('error', onEarlyError);
      this.#pending.delete(client);
      this.#pending.delete(upstream);
      if (this.#closing || client.destroyed || !this.#alive[backend]) {
        upstream.destroy();
        client.destroy();
        return;
      }
      this.#link(client, upstream, backend);
    });
  }

  #link(client: Socket, upstream: Socket, backend: number): void {
    this.#stats.accepted[backend]!++;
    const closed = Promise.all([waitClosed(client), waitClosed(upstream)]).then(() => undefined);
    const link: Link = { id: this.#nextId++, backend, clientPort: client.remotePort ?? 0, closed, client, upstream };
    this.#links.add(link);
    upstream.on('error', () => client.resetAndDestroy());
    client.on('error', () => upstream.destroy());
    // Once one side is gone, the other gets what was already forwarded, then closes.
    upstream.once('close', () => finishThenDestroy(client));
    client.once('close', () => finishThenDestroy(upstream));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    void closed.then(() => {
      this.#links.delete(link);
      this.#emit('disconnect', link);
    });
    this.#emit('connection', link);
  }

  #emit<K extends keyof LoadBalancerEvents>(event: K, link: Link): void {
    const view: BalancedConnection = { id: link.id, backend: link.backend, clientPort: link.clientPort, closed: link.closed };
    for (const listener of [...this.#listeners[event]]) {
      try {
        listener(view);
      } catch {
        // A throwing test listener must not break forwarding.
      }
    }
  }
}

/**
 * Creates a TCP load balancer over `backends`. Call `listen()` (it resolves
 * with the balancer), point clients at `lb.url`, and cut a backend off with
 * `kill(i)`. Dispose with `close()` or `await using`.
 *
 * @example
 * import { createLoadBalancer } from 'agent-tether/testing';
 *
 * await using lb = await createLoadBalancer({
 *   backends: [nodeA.url, nodeB.url, nodeC.url],
 *   strategy: 'random',
 * }).listen();
 * await using client = createClient({ baseUrl: lb.url });
 */
export function createLoadBalancer(options: LoadBalancerOptions): LoadBalancer {
  return new LoadBalancer(options);
}

function finishThenDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  if (!socket.writableEnded) socket.end();
}

function waitClosed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}
