/** redisStore: the store contract on Redis — a Redis Stream per session log, records as keys, retention by XTRIM, expiry by key TTL. */
import type { SessionEvent } from '../../../protocol/index.js';
import { systemClock, type Clock } from '../../../internal/clock.js';
import type { Logger } from '../../../logging/logger.js';
import type {
  AppendOptions,
  SessionRecord,
  SessionStore,
  StoreStats,
  StoredSession,
  TurnRecord,
  UnfinishedTurn,
} from '../../core/session-store.js';
import type { ClusterOptions, SessionCluster } from '../../core/session-cluster.js';
import { RedisCluster, type RedisClusterOptions } from '../../cluster/redis-cluster.js';
import { RedisConnection, type RedisClient, type RedisReply } from './redis-connection.js';
import { APPEND_EVENTS, COUNT_SESSIONS, DELETE_SESSION, LOAD_SESSION, SAVE_SESSION, SAVE_TURN, UNFINISHED_TURNS } from './redis-scripts.js';

/** Options of {@link redisStore}: a URL (the store owns the connection) or a node-redis client you own. */
export type RedisStoreOptions = (
  | {
      /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://`). */
      url: string;
      client?: undefined;
    }
  | {
      /** A node-redis client (`createClient()` from `redis` / `@redis/client`); connected by `open()` if it is not yet; never closed by the store. */
      client: RedisClient;
      url?: undefined;
    }
) & {
  /** Prefix of every key, so several servers (or apps) can share one Redis. @default 'agent-tether:' */
  keyPrefix?: string;
  /** A session untouched (no write, no load) this long expires (Redis key TTL). `Infinity` keeps sessions forever. @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /** Where connection errors are logged (once per outage). @default none */
  logger?: Logger;
  /** Time source for the sessions index. @default systemClock */
  clock?: Clock;
  /**
   * Several server processes on this Redis: each session's turns run on one
   * node (the holder of its lease), commands and events reach every node
   * (docs/scaling.md). `false`: this process is the only one using these
   * keys (no leases, no pub/sub). @default {} (on, with REDIS_CLUSTER_DEFAULTS)
   */
  cluster?: false | RedisClusterOptions;
};

/** A {@link SessionStore} on Redis; `connection` is what the cluster layer builds on. */
export interface RedisStore extends SessionStore {
  /** The store's Redis connection (internal to agent-tether: the cluster shares it). */
  readonly connection: RedisConnection;
  /** The resolved key prefix. */
  readonly keyPrefix: string;
  /** The key names of one session (for the cluster layer and docs). */
  keys(sessionId: string): SessionKeys;
  /**
   * Set by the cluster layer: appends are refused unless `fence.key` holds
   * `fence.value` (the turn lease), and stored events are published on the
   * session's channel. `undefined` for a single-node store.
   */
  appendHook: ((sessionId: string) => { fenceKey: string; fenceValue: string; channel: string } | undefined) | undefined;
}

/** The Redis keys of one session. */
export interface SessionKeys {
  record: string;
  log: string;
  turns: string;
  unfinished: string;
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = {
  keyPrefix: 'agent-tether:',
  sessionTtlMs: 24 * 60 * 60 * 1000,
} as const;

/**
 * Keeps sessions in Redis (7.x; a single instance or a primary with
 * replicas, not Redis Cluster: a script touches keys of several sessions).
 * Each store call is one Lua script, applied atomically; it resolves once
 * Redis acknowledged it (durable as far as Redis's own persistence is
 * configured: use AOF with `appendfsync everysec` or `always` when stored
 * events must survive a Redis restart). While Redis is unreachable, calls
 * reject at once and the server answers 503 `store_unavailable` with
 * `Retry-After`; the connection comes back by itself.
 *
 * @example
 * const server = createServer({ agent, store: redisStore({ url: 'redis://127.0.0.1:6379' }) });
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  if (typeof options !== 'object' || options === null || (!options.url && !options.client)) {
    throw new TypeError('redisStore: pass `{ url: "redis://host:port" }` or `{ client }` (a node-redis client)');
  }
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))) {
    throw new TypeError(`redisStore: \`url\` must be a redis:// or rediss:// URL, got ${String(options.url)}`);
  }
  const prefix = options.keyPrefix ?? REDIS_STORE_DEFAULTS.keyPrefix;
  if (typeof prefix !== 'string') throw new TypeError(`redisStore: \`keyPrefix\` must be a string, got ${String(prefix)}`);
  const ttlMs = options.sessionTtlMs ?? REDIS_STORE_DEFAULTS.sessionTtlMs;
  const leaseTtlMs = options.cluster ? options.cluster.leaseTtlMs : undefined;
  if (leaseTtlMs !== undefined && (typeof leaseTtlMs !== 'number' || !Number.isFinite(leaseTtlMs) || leaseTtlMs < 100)) {
    throw new TypeError(`redisStore: \`cluster.leaseTtlMs\` must be a number of milliseconds, at least 100, got ${String(leaseTtlMs)}`);
  }
  if (typeof ttlMs !== 'number' || !(ttlMs > 0)) {
    throw new TypeError(`redisStore: \`sessionTtlMs\` must be a positive number or Infinity, got ${String(ttlMs)}`);
  }
  const clock = options.clock ?? systemClock;
  const ttlArg = Number.isFinite(ttlMs) ? Math.ceil(ttlMs) : 0;
  const connection = RedisConnection.to(
    options.client ? { client: options.client } : { url: options.url! },
    options.logger ?? {},
    'store',
  );
  const sessionsKey = `${prefix}sessions`;
  const unfinishedKey = `${prefix}unfinished-sessions`;
  const keys = (sessionId: string): SessionKeys => {
    const base = `${prefix}s:${sessionId}`;
    return { record: `${base}:rec`, log: `${base}:log`, turns: `${base}:turns`, unfinished: `${base}:unf` };
  };
  const scriptKeys = (sessionId: string) => {
    const k = keys(sessionId);
    return [k.record, k.log, k.turns, k.unfinished, sessionsKey, unfinishedKey];
  };
  // Commands wait for the first connect; after that node-redis reconnects by itself.
  const ready = async () => connection.open();

  const store: RedisStore = {
    connection,
    keyPrefix: prefix,
    keys,
    appendHook: undefined,
    async open(): Promise<void> {
      try {
        await ready();
      } catch (error) {
        const where = options.url ? redactUrl(options.url) : 'the given client';
        throw new Error(`redisStore: cannot reach Redis at ${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    },
    async saveSession(record: SessionRecord): Promise<void> {
      await ready();
      const channel = store.appendHook?.(record.id)?.channel ?? '';
      await connection.script(SAVE_SESSION, scriptKeys(record.id), [ttlArg, clock.now(), record.id, JSON.stringify(record), channel]);
    },
    async loadSession(sessionId: string, { maxEvents }: AppendOptions): Promise<StoredSession | undefined> {
      await ready();
      const reply = await connection.script(LOAD_SESSION, scriptKeys(sessionId), [ttlArg, clock.now(), sessionId, Math.max(1, maxEvents)]);
      if (!Array.isArray(reply)) return undefined;
      const [record, turns, events] = reply as [string, string[], string[]];
      const problems: string[] = [];
      const parsedTurns: TurnRecord[] = [];
      for (const json of turns) {
        const turn = parse<TurnRecord>(json);
        if (turn) parsedTurns.push(turn);
        else problems.push(`unreadable turn record: ${json.slice(0, 80)}`);
      }
      // Newest first from XREVRANGE; a damaged entry cuts the tail served to what follows it.
      const parsedEvents: SessionEvent[] = [];
      for (const json of events) {
        const event = parse<SessionEvent>(json);
        if (!event) {
          problems.push(`unreadable event: ${json.slice(0, 80)}`);
          break;
        }
        parsedEvents.push(event);
      }
      parsedEvents.reverse();
      const loaded: StoredSession = { record: parse<SessionRecord>(record) ?? damagedRecord(sessionId, problems), turns: parsedTurns, events: parsedEvents };
      if (problems.length > 0) loaded.problems = problems;
      return loaded;
    },
    async appendEvents(sessionId: string, events: readonly SessionEvent[], { maxEvents }: AppendOptions): Promise<void> {
      if (events.length === 0) return;
      await ready();
      const hook = store.appendHook?.(sessionId);
      const args: (string | number)[] = [ttlArg, clock.now(), sessionId, Math.max(1, maxEvents), hook?.fenceKey ?? '', hook?.fenceValue ?? '', hook?.channel ?? ''];
      for (const event of events) args.push(event.seq, JSON.stringify(event));
      await connection.script(APPEND_EVENTS, scriptKeys(sessionId), args);
    },
    async saveTurn(sessionId: string, turn: TurnRecord): Promise<void> {
      await ready();
      const hook = store.appendHook?.(sessionId);
      const fence = [hook?.fenceKey ?? '', hook?.fenceValue ?? ''];
      await connection.script(SAVE_TURN, scriptKeys(sessionId), [ttlArg, clock.now(), sessionId, turn.id, JSON.stringify(turn), turn.terminal ? '1' : '0', ...fence]);
    },
    async unfinishedTurns(): Promise<UnfinishedTurn[]> {
      await ready();
      const flat = (await connection.script(UNFINISHED_TURNS, [unfinishedKey], [clock.now(), ttlArg, prefix])) as string[];
      const out: UnfinishedTurn[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ sessionId: flat[i]!, turnId: flat[i + 1]! });
      return out;
    },
    async deleteSession(sessionId: string): Promise<void> {
      await ready();
      await connection.script(DELETE_SESSION, scriptKeys(sessionId), [sessionId]);
    },
    async stats(): Promise<StoreStats> {
      await ready();
      const before = ttlArg > 0 ? clock.now() - ttlArg : -1;
      const sessions = Number(await connection.script(COUNT_SESSIONS, [sessionsKey], [before]));
      return { sessions, bytes: usedDatasetBytes(await connection.command(['INFO', 'memory'])) };
    },
    cluster(clusterOptions: ClusterOptions): SessionCluster | undefined {
      if (options.cluster === false) return undefined;
      return new RedisCluster(store, clusterOptions, options.cluster ?? {});
    },
    async close(): Promise<void> {
      await connection.close();
    },
  };
  return store;
}

/** Whether a store is a {@link RedisStore} (the cluster layer needs one). */
export function isRedisStore(store: unknown): store is RedisStore {
  return typeof store === 'object' && store !== null && (store as RedisStore).connection instanceof RedisConnection;
}

function parse<T>(json: string): T | undefined {
  try {
    return JSON.parse(json) as T;
  } catch {
    return undefined;
  }
}

/** A record that cannot be read: the session is served with a new epoch (recovery sees `epoch === ''`). */
function damagedRecord(sessionId: string, problems: string[]): SessionRecord {
  problems.push('unreadable session record');
  return { version: 2, id: sessionId, epoch: '', createdAt: 0 };
}

/** Redis's own figure for the bytes its data takes (the whole database: cheap, and honest about what it counts). */
function usedDatasetBytes(info: RedisReply): number {
  const text = typeof info === 'string' ? info : '';
  const match = /used_memory_dataset:(\d+)/.exec(text) ?? /used_memory:(\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
