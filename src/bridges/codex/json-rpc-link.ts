/** JsonRpcLink: one connection to a Codex app-server (WebSocket or a child's stdio), its requests and what it pushes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

/** A JSON-RPC error answer (Codex sends no `"jsonrpc"` field). */
export class JsonRpcError extends Error {
  override name = 'JsonRpcError';
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** The link closed before the answer came: the request may or may not have been carried out. */
export class LinkClosedError extends Error {
  override name = 'LinkClosedError';
  readonly code = 'upstream_closed';
}

/** What the link tells its owner. */
export interface LinkHandlers {
  /** A notification (`{method, params}` without `id`). */
  notification(method: string, params: Record<string, unknown>): void;
  /** A request from Codex to us (`{id, method, params}`), answered with {@link JsonRpcLink.answer}. */
  request(id: number | string, method: string, params: Record<string, unknown>): void;
  /** The link is gone (socket closed, process exited); every pending request was rejected first. */
  closed(reason: string): void;
}

/** Where Codex runs: a WebSocket URL, or a command whose stdio speaks the protocol. */
export type CodexEndpoint = { url: string } | { command: string; args?: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string };

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/**
 * One connection to Codex. Requests are tracked here and nowhere else: on
 * close, every pending one is rejected with {@link LinkClosedError}. Messages
 * are handled as they arrive, never paused: Codex cuts a WebSocket reader whose
 * outbound queue fills (F6), so the link must keep reading.
 */
export class JsonRpcLink {
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #send: (text: string) => void;
  #close: () => void;
  #closed = false;
  #handlers: LinkHandlers;

  private constructor(handlers: LinkHandlers) {
    this.#handlers = handlers;
    this.#send = () => {};
    this.#close = () => {};
  }

  /** Opens the link; rejects when the socket or process cannot be opened within `timeoutMs`. */
  static async open(endpoint: CodexEndpoint, handlers: LinkHandlers, timeoutMs: number): Promise<JsonRpcLink> {
    const link = new JsonRpcLink(handlers);
    if ('url' in endpoint) await link.#openSocket(endpoint.url, timeoutMs);
    else link.#spawn(endpoint);
    return link;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #openSocket(url: string, timeoutMs: number): Promise<void> {
    // No per-message deflate: it costs CPU on both sides for 100,000-delta turns of small frames.
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, maxPayload: 256 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.#receive(data.toString());
    });
    socket.on('error', () => {}); // 'close' follows and says the rest
    socket.once('close', (code) => this.#onClosed(`WebSocket closed (${code})`));
    this.#send = (text) => socket.send(text);
    this.#close = () => socket.terminate();
  }

  #spawn(endpoint: { command: string; args?: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string }): void {
    const child: ChildProcess = spawn(endpoint.command, [...(endpoint.args ?? [])], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: endpoint.env ?? process.env,
      cwd: endpoint.cwd,
    });
    child.once('error', (error) => this.#onClosed(`codex could not run: ${error.message}`));
    child.once('exit', (code, signal) => this.#onClosed(`codex exited (${signal ?? code})`));
    child.stdin!.on('error', () => {}); // EPIPE after an exit: 'exit' reports it
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => this.#receive(line));
    this.#send = (text) => child.stdin!.write(`${text}\n`);
    // Closing stdin ends app-server (and any turn it runs): only at the bridge's end.
    this.#close = () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      timer.unref();
    };
  }

  /** Sends a request; resolves with its `result`, rejects with {@link JsonRpcError} or {@link LinkClosedError}. */
  request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new LinkClosedError(`codex link closed before ${method}`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send(JSON.stringify({ id, method, params }));
    });
  }

  notify(method: string, params?: Record<string, unknown>): void {
    if (!this.#closed) this.#send(JSON.stringify(params === undefined ? { method } : { method, params }));
  }

  /** Answers a request Codex sent us. */
  answer(id: number | string, result: Record<string, unknown>): void {
    if (!this.#closed) this.#send(JSON.stringify({ id, result }));
  }

  close(): void {
    if (this.#closed) return;
    this.#close();
    this.#onClosed('closed by the bridge');
  }

  #receive(text: string): void {
    let message: { id?: number | string; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return; // not a protocol line (stdio noise); nothing to answer
    }
    if (typeof message !== 'object' || message === null) return;
    if (message.method !== undefined) {
      if (message.id !== undefined) this.#handlers.request(message.id, message.method, message.params ?? {});
      else this.#handlers.notification(message.method, message.params ?? {});
      return;
    }
    if (typeof message.id !== 'number') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.error) pending.reject(new JsonRpcError(message.error.code, message.error.message));
    else pending.resolve(message.result ?? {});
  }

  #onClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(new LinkClosedError(`codex link lost: ${reason}`));
    this.#pending.clear();
    this.#handlers.closed(reason);
  }
}
