/** The server's request limits in one place: what each key (principal, else client IP) may create, open and queue. */
import type { Clock } from '../../internal/clock.js';
import type { Command } from '../commands/command.js';
import { ServerError } from '../core/server-error.js';
import { RateLimitedError, type LimitName } from './rate-limited-error.js';
import { TokenBucket } from './token-bucket.js';

/** The limits {@link RequestLimits} enforces (resolved server options). */
export interface RequestLimitOptions {
  sessionsPerMinute: number;
  promptsPerMinute: number;
  maxConnectionsPerClient: number;
  maxQueuedTurns: number;
  maxMetadataBytes: number;
}

/** What `server.stats().limits` reports. */
export interface LimitStats {
  /** Requests refused with 429, by limit. */
  rejected: Record<LimitName, number>;
  /** WebSockets, SSE streams and long-polls open right now, over all keys. */
  openConnections: number;
  /** Keys (principals or IPs) holding at least one open connection. */
  connectedClients: number;
  /** Connections closed because their unread output passed `maxBufferedBytes`. */
  overflowClosed: number;
  /** Connections cut for sending headers or a body too slowly (`headersTimeoutMs`, `requestTimeoutMs`). */
  timedOut: number;
}

/** How a limit learns a session's queue length (the core's count). */
export type QueuedTurnsOf = (sessionId: string) => Promise<number | undefined>;

/**
 * Rate and concurrency limits keyed by a string: the principal's id when the
 * caller is authenticated, else its IP. Every refusal is a
 * {@link RateLimitedError} (429 + `Retry-After`) and is counted in
 * {@link RequestLimits.stats}.
 *
 * @example
 * const limits = new RequestLimits(options, clock, queuedTurnsOf);
 * await limits.admit(command, '10.0.0.7'); // throws 429 when over
 * const release = limits.openConnection('10.0.0.7');
 */
export class RequestLimits {
  readonly #o: RequestLimitOptions;
  readonly #sessions: TokenBucket;
  readonly #prompts: TokenBucket;
  readonly #queuedTurnsOf: QueuedTurnsOf;
  readonly #open = new Map<string, number>();
  #openTotal = 0;
  #overflowClosed = 0;
  #timedOut = 0;
  readonly #rejected: Record<LimitName, number> = { sessions: 0, connections: 0, prompts: 0, queuedTurns: 0 };

  constructor(options: RequestLimitOptions, clock: Pick<Clock, 'now'>, queuedTurnsOf: QueuedTurnsOf) {
    this.#o = options;
    this.#sessions = new TokenBucket(options.sessionsPerMinute, clock);
    this.#prompts = new TokenBucket(options.promptsPerMinute, clock);
    this.#queuedTurnsOf = queuedTurnsOf;
  }

  /**
   * Check `command` from `key` against the rate limits before it runs.
   *
   * @throws {RateLimitedError} over `sessionsPerMinute`, `promptsPerMinute` or `maxQueuedTurns`
   * @throws {ServerError} `payload_too_large` (413) for session metadata over `maxMetadataBytes`
   */
  async admit(command: Command, key: string): Promise<void> {
    if (command.type === 'createSession') {
      // Kept for the session's life: bounded, so the session rate bounds memory too.
      if (command.metadata !== undefined && Buffer.byteLength(JSON.stringify(command.metadata)) > this.#o.maxMetadataBytes) {
        throw new ServerError('payload_too_large', `Session metadata exceeds ${this.#o.maxMetadataBytes} bytes`, 413, {
          details: { maxMetadataBytes: this.#o.maxMetadataBytes },
        });
      }
      this.#take('sessions', this.#sessions, key);
    }
    else if (command.type === 'prompt') {
      // The queue first: a refused prompt should not also spend the caller's rate.
      const queued = await this.#queuedTurnsOf(command.sessionId);
      if (queued !== undefined && queued >= this.#o.maxQueuedTurns) {
        this.#rejected.queuedTurns++;
        throw new RateLimitedError('queuedTurns', 1000, `The session already has ${queued} queued turns; retry once some ran`);
      }
      this.#take('prompts', this.#prompts, key);
    }
  }

  /**
   * Count one long-lived connection (WebSocket, SSE stream, long-poll) of `key`;
   * call the returned function exactly once when it ends.
   *
   * @throws {RateLimitedError} when `key` already holds `maxConnectionsPerClient`
   */
  openConnection(key: string): () => void {
    const count = this.#open.get(key) ?? 0;
    if (count >= this.#o.maxConnectionsPerClient) {
      this.#rejected.connections++;
      throw new RateLimitedError('connections', 1000, `Too many open connections (at most ${this.#o.maxConnectionsPerClient} per client)`);
    }
    this.#open.set(key, count + 1);
    this.#openTotal++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#openTotal--;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }

  /** Count a connection closed for not reading its output. */
  overflowed(): void {
    this.#overflowClosed++;
  }

  /** Count a connection cut for a slow request. */
  timedOut(): void {
    this.#timedOut++;
  }

  stats(): LimitStats {
    return {
      timedOut: this.#timedOut,
      rejected: { ...this.#rejected },
      openConnections: this.#openTotal,
      connectedClients: this.#open.size,
      overflowClosed: this.#overflowClosed,
    };
  }

  #take(limit: LimitName, bucket: TokenBucket, key: string): void {
    const wait = bucket.take(key);
    if (wait === 0) return;
    this.#rejected[limit]++;
    throw new RateLimitedError(limit, wait);
  }
}
