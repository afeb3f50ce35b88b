/**
 * One connection through the fault proxy: the accepted client socket, the
 * socket to the target, and a forwarding pipe in each direction that applies
 * the proxy's current faults chunk by chunk.
 */
import type { Socket } from 'node:net';
import { Pipe } from './proxy-pipe.js';
import { isSseRequest, isWebSocketUpgrade, RequestSniffer, type ProxyRequest } from './request-sniffer.js';

/** `'up'`: client → target. `'down'`: target → client. */
export type ProxyDirection = 'up' | 'down';

/** What a connection carries, as far as the proxy could tell from its requests. */
export type ProxyConnectionKind = 'unknown' | 'http' | 'websocket' | 'sse';

/** The faults a connection's pipes consult before forwarding each chunk. */
export interface FaultState {
  stall: { up: boolean; down: boolean };
  sliceBytes: number | null;
  sliceDelayMs: number;
  delayMs: number;
  refuseWebSocket: boolean;
  bufferSse: boolean;
}

/** Hooks from a connection back to its proxy. */
export interface ConnectionHost {
  readonly faults: FaultState;
  readonly maxBufferedBytes: number;
  onRequest(connection: ProxyConnection, request: ProxyRequest): void;
  onClosed(connection: ProxyConnection): void;
}

/** Byte counters of one direction of a connection. */
export interface DirectionStats {
  /** Bytes read from the source socket. */
  received: number;
  /** Bytes written to the destination socket. */
  forwarded: number;
  /** Bytes held by the proxy: queued behind a stall, a delay or a buffered SSE body. */
  pending: number;
  /** Separate `write()` calls made to the destination (grows with `sliceWrites`). */
  writes: number;
}

const REFUSAL_BODY = 'WebSocket upgrades are refused by the fault proxy\n';
const REFUSAL = Buffer.from(
  'HTTP/1.1 403 Forbidden\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(REFUSAL_BODY)}\r\n` +
    'Connection: close\r\n\r\n' +
    REFUSAL_BODY,
  'latin1',
);

/**
 * A connection through the fault proxy. Obtained from `proxy.connections`,
 * the `'connection'` event or `proxy.nextConnection()`.
 *
 * @example
 * const conn = await proxy.nextConnection({ kind: 'websocket' });
 * conn.reset(); // only this one
 */
export class ProxyConnection {
  /** 1-based, in order of acceptance. */
  readonly id: number;
  /** The accepted socket (the client's side). */
  readonly client: Socket;
  /** The socket to the target. */
  readonly upstream: Socket;
  /** Every HTTP request head seen on this connection, in order. */
  readonly requests: ProxyRequest[] = [];
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;

  #kind: ProxyConnectionKind = 'unknown';
  #open = true;
  /** Set by `end()`/`refuse`: from now on incoming bytes are dropped. */
  #draining = false;
  #host: ConnectionHost;
  #sniffer = new RequestSniffer();
  #pipes: Record<ProxyDirection, Pipe>;
  #resolveClosed!: () => void;
  #socketsClosed = 0;

  /** @internal The response head of an SSE request has not fully passed yet. */
  sseHeadPending = false;
  /** @internal Bytes of `\r\n\r\n` matched so far at the end of the previous SSE response chunk. */
  sseHeadMatched = 0;
  /** @internal The SSE response's head has passed; what follows is its body. */
  sseBody = false;

  constructor(id: number, client: Socket, upstream: Socket, host: ConnectionHost) {
    this.id = id;
    this.client = client;
    this.upstream = upstream;
    this.#host = host;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#pipes = {
      up: new Pipe(this, 'up', client, upstream, host),
      down: new Pipe(this, 'down', upstream, client, host),
    };
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      // Errors are expected here (resets are the point); they end the connection, nothing more.
      socket.on('error', () => {});
      socket.once('close', (hadError) => this.#onSocketClose(socket, hadError));
    }
    client.on('data', (data: Buffer) => this.#fromClient(data));
    upstream.on('data', (data: Buffer) => this.#pipes.down.push(data));
    client.on('end', () => this.#pipes.up.end());
    upstream.on('end', () => this.#pipes.down.end());
  }

  /** What the connection carries, judged from its latest request. */
  get kind(): ProxyConnectionKind {
    return this.#kind;
  }

  /** False once both sockets are closed. */
  get open(): boolean {
    return this.#open;
  }

  /** Byte counters per direction (live). */
  get stats(): Readonly<Record<ProxyDirection, Readonly<DirectionStats>>> {
    return { up: this.#pipes.up.stats, down: this.#pipes.down.stats };
  }

  /** Destroys both sides with a TCP RST: each peer sees `ECONNRESET`. */
  reset(): void {
    this.#draining = true;
    this.#dropQueues();
    for (const socket of [this.client, this.upstream]) resetSocket(socket);
  }

  /**
   * Ends both sides with a FIN, at once: queued bytes are dropped and nothing
   * more is forwarded. A WebSocket peer sees its socket end without a close
   * frame (close code 1006).
   */
  end(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#dropQueues();
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) socket.end();
    }
  }

  /** @internal Re-evaluates held bytes after a fault changed. */
  kick(): void {
    this.#pipes.up.kick();
    this.#pipes.down.kick();
  }

  /** @internal Destroys both sockets (proxy shutdown). */
  destroy(): void {
    this.#draining = true;
    this.#dropQueues();
    this.client.destroy();
    this.upstream.destroy();
  }

  /** @internal True once the connection is being torn down: incoming bytes are dropped. */
  get draining(): boolean {
    return this.#draining;
  }

  #fromClient(data: Buffer): void {
    if (this.#draining) return;
    if (this.#sniffer.opaque) {
      this.#pipes.up.push(data);
      return;
    }
    for (const segment of this.#sniffer.feed(data)) {
      const { request } = segment;
      if (request !== undefined) {
        this.requests.push(request);
        if (isWebSocketUpgrade(request)) this.#kind = 'websocket';
        else if (isSseRequest(request)) this.#kind = 'sse';
        else this.#kind = 'http';
        this.#host.onRequest(this, request);
        if (this.#kind === 'websocket' && this.#host.faults.refuseWebSocket) {
          this.#refuse();
          return;
        }
        if (this.#kind === 'sse') {
          this.sseHeadPending = true;
          this.sseHeadMatched = 0;
          this.sseBody = false;
        }
      }
      this.#pipes.up.push(segment.bytes);
    }
  }

  /** Answers a WebSocket upgrade with 403 and closes; the target never sees the request. */
  #refuse(): void {
    this.#draining = true;
    this.#dropQueues();
    this.upstream.destroy();
    if (!this.client.destroyed) this.client.end(REFUSAL);
  }

  #dropQueues(): void {
    this.#pipes.up.drop();
    this.#pipes.down.drop();
  }

  #onSocketClose(socket: Socket, hadError: boolean): void {
    const other = socket === this.client ? this.upstream : this.client;
    if (!other.destroyed) {
      // Mirror an abortive close onto the other side; a clean close ends it after the queue drains.
      if (hadError) {
        this.#draining = true;
        this.#dropQueues();
        resetSocket(other);
      } else {
        const toward = socket === this.client ? this.#pipes.down : this.#pipes.up;
        toward.drop();
        const from = socket === this.client ? this.#pipes.up : this.#pipes.down;
        from.end();
      }
    }
    this.#socketsClosed++;
    if (this.#socketsClosed === 2) {
      this.#open = false;
      this.#pipes.up.dispose();
      this.#pipes.down.dispose();
      this.#host.onClosed(this);
      this.#resolveClosed();
    }
  }
}

/** Sends a RST where possible; a socket that never connected or is gone is just destroyed. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // An RST on a socket whose FIN (end()) is still pending fails in libuv with
  // EINVAL; Node then never emits 'close' and the handle leaks. It is ending
  // anyway: just destroy it.
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
