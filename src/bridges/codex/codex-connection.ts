/** CodexConnection: the bridge's one connection to Codex, re-opened and re-initialized after every loss. */
import pRetry from 'p-retry';
import type { Logger } from '../../server.js';
import { type CodexEndpoint, JsonRpcLink } from './json-rpc-link.js';

/** Whoever follows one Codex thread on this connection (the turn running on it). */
export interface ThreadListener {
  notification(method: string, params: Record<string, unknown>): void;
  /** A request from Codex (an approval) about this thread. */
  request(id: number | string, method: string, params: Record<string, unknown>): void;
  /** The connection was lost: events may have been missed until the thread is resumed. */
  lost(): void;
}

/** What {@link CodexConnection} needs. */
export interface CodexConnectionOptions {
  endpoint: CodexEndpoint;
  /** How long one attempt to open the socket (or start the process) may take. */
  connectTimeoutMs: number;
  /** How long to keep trying to reach Codex again before a turn waiting on it fails. */
  reconnectTimeoutMs: number;
  logger: Logger;
  clientName: string;
  clientVersion: string;
}

/**
 * Codex has no cursor and no replay, and it forgets a connection's thread
 * subscriptions when the connection goes. This class owns the connection: it
 * opens it, runs the `initialize` handshake on every new one, remembers which
 * threads this connection follows (so a caller knows to `thread/resume`), and
 * routes notifications and requests to the one listener of their thread.
 */
export class CodexConnection {
  #o: CodexConnectionOptions;
  #link: JsonRpcLink | undefined;
  #opening: Promise<JsonRpcLink> | undefined;
  #subscribed = new Set<string>();
  #listeners = new Map<string, ThreadListener>();
  #closed = new AbortController();

  constructor(options: CodexConnectionOptions) {
    this.#o = options;
  }

  /** An open, initialized link: the current one, or a new one (retried with backoff up to `reconnectTimeoutMs`). */
  ready(): Promise<JsonRpcLink> {
    if (this.#closed.signal.aborted) return Promise.reject(new Error('The Codex bridge is closed'));
    if (this.#link && !this.#link.closed) return Promise.resolve(this.#link);
    this.#opening ??= pRetry(() => this.#open(), {
      retries: 1000,
      minTimeout: 100,
      maxTimeout: 2000,
      maxRetryTime: this.#o.reconnectTimeoutMs,
      signal: this.#closed.signal,
      onFailedAttempt: ({ error, attemptNumber }) =>
        this.#o.logger.debug?.({ err: error, attempt: attemptNumber }, 'agent-tether: reaching Codex failed; trying again'),
    }).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(): Promise<JsonRpcLink> {
    const link = await JsonRpcLink.open(
      this.#o.endpoint,
      {
        notification: (method, params) => this.#route(params).forEach((l) => l.notification(method, params)),
        request: (id, method, params) => {
          const listeners = this.#route(params);
          // A request nobody here can answer would hold the turn forever: decline it.
          if (listeners.length === 0) link.answer(id, { decision: 'decline' });
          for (const listener of listeners) listener.request(id, method, params);
        },
        closed: (reason) => this.#onLost(link, reason),
      },
      this.#o.connectTimeoutMs,
    );
    try {
      await link.request('initialize', {
        clientInfo: { name: this.#o.clientName, title: null, version: this.#o.clientVersion },
        capabilities: { experimentalApi: true },
      });
      link.notify('initialized');
    } catch (error) {
      link.close();
      throw error;
    }
    if (this.#closed.signal.aborted) {
      link.close();
      throw new Error('The Codex bridge is closed');
    }
    this.#link = link;
    this.#subscribed.clear();
    return link;
  }

  #route(params: Record<string, unknown>): ThreadListener[] {
    const threadId = params.threadId ?? (params.thread as { id?: unknown } | undefined)?.id;
    const listener = typeof threadId === 'string' ? this.#listeners.get(threadId) : undefined;
    return listener ? [listener] : [];
  }

  #onLost(link: JsonRpcLink, reason: string): void {
    if (this.#link !== link) return; // a link that never became current
    this.#link = undefined;
    this.#subscribed.clear();
    if (this.#closed.signal.aborted) return;
    this.#o.logger.warn?.({ reason }, 'agent-tether: lost the connection to Codex; turns resume once it is back');
    for (const listener of this.#listeners.values()) listener.lost();
  }

  /** Whether this connection follows `threadId` (created or resumed on it). */
  follows(threadId: string): boolean {
    return this.#subscribed.has(threadId);
  }

  markFollowed(threadId: string): void {
    this.#subscribed.add(threadId);
  }

  /** Routes `threadId`'s messages to `listener` until the returned function is called. */
  listen(threadId: string, listener: ThreadListener): () => void {
    this.#listeners.set(threadId, listener);
    return () => {
      if (this.#listeners.get(threadId) === listener) this.#listeners.delete(threadId);
    };
  }

  close(): void {
    this.#closed.abort();
    const link = this.#link;
    this.#link = undefined;
    link?.close();
  }
}
