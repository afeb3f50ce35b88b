/** RedisConnection: one node-redis client as the Redis store and the cluster use it — errors never crash, commands fail fast while Redis is away, scripts run by SHA. */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from '../../../logging/logger.js';

/** A node-redis client (`createClient()` from `redis` or `@redis/client`). */
export type RedisClient = ReturnType<typeof createClient>;

/** One Redis argument or reply, as this package reads them (RESP2). */
export type RedisReply = string | number | null | RedisReply[];

/** How a {@link RedisConnection} is made: from a URL (it owns the client) or around a client the caller owns. */
export type RedisTarget = { url: string; client?: undefined } | { client: RedisClient; url?: undefined };

// Reconnect quickly at first, then every second: an outage of a few seconds is
// over soon after Redis is back; meanwhile commands fail at once (503).
const OPEN_TIMEOUT_MS = 5000;

const CLIENT_OPTIONS = {
  disableOfflineQueue: true,
  socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000), connectTimeout: 5000 },
};

/**
 * Wraps a node-redis client. Made from a URL, it owns the client: the
 * offline queue is off, so a command while Redis is unreachable rejects at
 * once (the core answers 503 `store_unavailable`) instead of waiting
 * unboundedly, and it reconnects in the background. An `error` listener is
 * always attached: node-redis emits connection errors as events, and an
 * unlistened `error` event would crash the process.
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly #owned: boolean;
  readonly #logger: Logger;
  #shas = new Map<string, string>();
  #connecting: Promise<void> | undefined;
  #down = false;

  /** A connection to `target`: a client made from the URL (owned) or the caller's client (left open on close). */
  static to(target: RedisTarget, logger: Logger, name: string): RedisConnection {
    if (target.client) return new RedisConnection(target.client, false, logger, name);
    return new RedisConnection(createClient({ url: target.url, ...CLIENT_OPTIONS }), true, logger, name);
  }

  private constructor(client: RedisClient, owned: boolean, logger: Logger, name: string) {
    this.client = client;
    this.#owned = owned;
    this.#logger = logger;
    this.client.on('error', (error: unknown) => {
      // Logged once per outage; node-redis reconnects by itself.
      if (this.#down) return;
      this.#down = true;
      this.#logger.warn?.({ err: error, connection: name }, 'agent-tether: Redis connection error; reconnecting');
    });
    this.client.on('ready', () => {
      if (this.#down) this.#logger.warn?.({ connection: name }, 'agent-tether: Redis connection is back');
      this.#down = false;
    });
  }

  /**
   * Connect (once) and check Redis answers. node-redis keeps retrying a
   * first connect that fails, so this gives up after `timeoutMs` (the client
   * goes on retrying in the background; a later call may succeed).
   */
  open(timeoutMs = OPEN_TIMEOUT_MS): Promise<void> {
    this.#connecting ??= (async () => {
      if (!this.client.isOpen) {
        // connect() rejecting after our timeout is already reported by the timeout.
        const connected = this.client.connect();
        connected.catch(() => {});
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          await Promise.race([connected, timeout]);
        } finally {
          clearTimeout(timer);
        }
      }
      await this.client.sendCommand(['PING']);
    })();
    const connecting = this.#connecting;
    connecting.catch(() => {
      // A failed first connect may be retried by the next open().
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    return connecting;
  }

  /** One command. */
  async command(args: readonly string[]): Promise<RedisReply> {
    return (await this.client.sendCommand([...args])) as RedisReply;
  }

  /** Run a Lua script by SHA (loading it on `NOSCRIPT`, e.g. after a Redis restart). */
  async script(source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<RedisReply> {
    let sha = this.#shas.get(source);
    if (!sha) {
      sha = createHash('sha1').update(source).digest('hex');
      this.#shas.set(source, sha);
    }
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return (await this.client.sendCommand(['EVALSHA', sha, ...tail])) as RedisReply;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await this.client.sendCommand(['EVAL', source, ...tail])) as RedisReply;
    }
  }

  /** A second connection on the same server (pub/sub needs its own), owned by the caller. */
  duplicate(name: string): RedisConnection {
    return new RedisConnection(this.client.duplicate(CLIENT_OPTIONS) as RedisClient, true, this.#logger, name);
  }

  /** Close the client if this connection made it; a caller's client stays open. */
  async close(): Promise<void> {
    if (!this.#owned) return;
    if (!this.client.isOpen) return;
    try {
      await this.client.close();
    } catch {
      this.client.destroy();
    }
  }
}
