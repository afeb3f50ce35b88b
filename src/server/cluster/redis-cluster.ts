/** RedisCluster: SessionCluster on Redis — runner leases with a TTL, commands to the runner over pub/sub, live events followed over one subscriber connection per node. */
import type { SessionEvent } from '../../protocol/index.js';
import { randomId } from '../../internal/random-id.js';
import type { ClusterHandlers, ClusterOptions, RunnerCommand, RunnerReply, SessionCluster } from '../core/session-cluster.js';
import type { SessionRecord } from '../core/session-store.js';
import type { RedisConnection } from '../stores/redis/redis-connection.js';
import type { RedisStore } from '../stores/redis/redis-store.js';
import { ACQUIRE_LEASE, ORPHANED_SESSIONS, RELEASE_LEASE, RENEW_LEASES } from './cluster-scripts.js';
import { LeaseKeeper, type LeaseStats } from './lease-keeper.js';

/** Options of the cluster a {@link RedisStore} runs (`redisStore({ cluster })`). */
export interface RedisClusterOptions {
  /** How long a runner lease lives without renewal: a dead runner's turn ends `interrupted` about this long after it died. Renewed every quarter of it. @default 3000 */
  leaseTtlMs?: number;
  /** This process's id in the cluster (logs, lease values). @default a random id */
  nodeId?: string;
}

/** Defaults of {@link RedisClusterOptions}. */
export const REDIS_CLUSTER_DEFAULTS = { leaseTtlMs: 3000 } as const;

type BusMessage =
  | { t: 'cmd'; id: string; from: string; command: RunnerCommand }
  | { t: 'reply'; id: string; reply: RunnerReply };

interface Follower {
  after: number;
  onEvents: (events: SessionEvent[]) => void;
  onRecord: ((record: SessionRecord) => void) | undefined;
  /** Deliveries run one after another, so a gap fill and a live message never interleave. */
  chain: Promise<void>;
  listener: (message: string) => void;
}

const NO_RUNNER: RunnerReply = { ok: false, code: 'no_runner', message: 'No node runs this session', status: 503 };

/**
 * The cluster of one process on a {@link RedisStore}. Keys (with the store's
 * prefix): `lease:<sessionId>` (string: the runner's {@link RedisCluster.holder}, with a TTL),
 * channels `node:<holder>` (commands and replies) and `ev:<sessionId>` (the
 * events the runner stored, published by the append script itself).
 */
export class RedisCluster implements SessionCluster {
  readonly nodeId: string;
  /**
   * This process in leases, fences and its command channel: the node id plus a random part
   * drawn at start. A node restarted under the same id (a pod name) is another holder, so it
   * never takes a lease its dead predecessor still holds for its own (it would neither run
   * that session nor let anyone else until the lease lapsed); it adopts it once it lapses.
   */
  readonly holder: string;
  readonly leaseTtlMs: number;
  #store: RedisStore;
  #redis: RedisConnection;
  #sub: RedisConnection | undefined;
  /** Renewals go over a connection of their own, so they never wait behind a backlog of appends. */
  #leases: RedisConnection | undefined;
  #keeper: LeaseKeeper;
  #o: ClusterOptions;
  #handlers: ClusterHandlers | undefined;
  #owned = new Set<string>();
  #followers = new Map<string, Follower>();
  #pending = new Map<string, { resolve: (reply: RunnerReply | undefined) => void }>();
  #timers = new Set<unknown>();
  #sleepers = new Set<() => void>();
  #closed = false;

  constructor(store: RedisStore, options: ClusterOptions, cluster: RedisClusterOptions = {}) {
    this.#store = store;
    this.#redis = store.connection;
    this.#o = options;
    this.nodeId = cluster.nodeId ?? randomId();
    this.holder = `${this.nodeId}~${randomId()}`;
    this.leaseTtlMs = cluster.leaseTtlMs ?? REDIS_CLUSTER_DEFAULTS.leaseTtlMs;
    // Every append is fenced by the lease: a node that lost it (paused, cut off from Redis) cannot slip an event in.
    store.appendHook = (sessionId) => ({ fenceKey: this.#leaseKey(sessionId), fenceValue: this.holder, channel: this.#eventsChannel(sessionId) });
    this.#keeper = new LeaseKeeper({
      clock: options.clock,
      logger: options.logger,
      ttlMs: this.leaseTtlMs,
      renew: async (ids) => (await this.#leases!.script(RENEW_LEASES, ids.map((id) => this.#leaseKey(id)), [this.holder, this.leaseTtlMs])) as number[],
      lost: (sessionId, why) => this.#lose(sessionId, why),
    });
  }

  async start(handlers: ClusterHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#redis.open();
    const sub = this.#redis.duplicate('cluster-subscriber');
    this.#sub = sub;
    await sub.open();
    // Pub/sub messages sent while the subscriber was away are lost: after a reconnect, fill every followed log from the store.
    sub.client.on('ready', () => {
      for (const [sessionId, follower] of this.#followers) this.#deliver(sessionId, follower, undefined);
    });
    // The subscriber connection broke: followed sessions get nothing until it is back, and their streams would go quiet.
    sub.client.on('error', () => {
      if (!this.#closed) this.#handlers?.unreachable();
    });
    await sub.client.subscribe(this.#nodeChannel(this.holder), (message: string) => this.#onBus(message));
    const leases = this.#redis.duplicate('cluster-leases');
    this.#leases = leases;
    await leases.open();
    this.#keeper.start();
    this.#every(Math.max(50, Math.min(500, Math.floor(this.leaseTtlMs / 4))), () => this.#adoptOrphans());
  }

  owns(sessionId: string): boolean {
    return this.#owned.has(sessionId);
  }

  async acquire(sessionId: string): Promise<boolean> {
    const sentAt = this.#o.clock.now();
    const holder = await this.#redis.script(ACQUIRE_LEASE, [this.#leaseKey(sessionId)], [this.holder, this.leaseTtlMs]);
    const mine = holder === this.holder && !this.#closed;
    if (mine) {
      this.#owned.add(sessionId);
      this.#keeper.held(sessionId, sentAt);
    }
    return mine;
  }

  async release(sessionId: string): Promise<void> {
    this.#keeper.dropped(sessionId);
    if (!this.#owned.delete(sessionId)) return;
    await this.#redis.script(RELEASE_LEASE, [this.#leaseKey(sessionId)], [this.holder]);
  }

  async send(command: RunnerCommand): Promise<RunnerReply> {
    const deadline = this.#o.clock.now() + this.leaseTtlMs + 1000;
    for (;;) {
      const holder = await this.#redis.command(['GET', this.#leaseKey(command.sessionId)]);
      if (typeof holder !== 'string') return NO_RUNNER;
      if (holder === this.holder) return this.#handlers!.command(command);
      const reply = await this.#forward(holder, command, deadline);
      if (reply) return reply;
      // The runner did not answer: wait for its lease to lapse (it died) or move, then try again.
      if (this.#o.clock.now() >= deadline || this.#closed) {
        return { ok: false, code: 'store_unavailable', message: 'The node running this session does not answer', status: 503 };
      }
      await this.#sleep(100);
    }
  }

  async follow(sessionId: string, after: number, onEvents: (events: SessionEvent[]) => void, onRecord?: (record: SessionRecord) => void): Promise<void> {
    const existing = this.#followers.get(sessionId);
    if (existing) {
      existing.after = after;
      existing.onEvents = onEvents;
      existing.onRecord = onRecord;
      return;
    }
    const follower: Follower = {
      after,
      onEvents,
      onRecord,
      chain: Promise.resolve(),
      listener: (message: string) => {
        let parsed: SessionEvent[] | { record?: SessionRecord };
        try {
          parsed = JSON.parse(message) as SessionEvent[] | { record?: SessionRecord };
        } catch {
          return;
        }
        // The channel carries stored events (an array) and saved records (`{"record":…}`, SAVE_SESSION).
        if (Array.isArray(parsed)) this.#deliver(sessionId, follower, parsed);
        else if (parsed.record) this.#deliverRecord(sessionId, follower, parsed.record);
      },
    };
    this.#followers.set(sessionId, follower);
    await this.#sub!.client.subscribe(this.#eventsChannel(sessionId), follower.listener);
    // What was stored between the caller's load and the subscription is read from the store.
    this.#deliver(sessionId, follower, undefined);
  }

  /** Hand a saved record to the follower, in order with its events; `undefined`: read it from the store. */
  #deliverRecord(sessionId: string, follower: Follower, record: SessionRecord | undefined): void {
    if (!follower.onRecord) return;
    follower.chain = follower.chain.then(async () => {
      if (this.#followers.get(sessionId) !== follower) return;
      if (record === undefined) {
        try {
          const json = await this.#redis.command(['GET', this.#store.keys(sessionId).record]);
          if (typeof json !== 'string') return;
          record = JSON.parse(json) as SessionRecord;
        } catch (error) {
          this.#o.logger.warn?.({ err: error, sessionId }, 'agent-tether: could not read a session record from Redis');
          return;
        }
      }
      follower.onRecord?.(record);
    });
  }

  unfollow(sessionId: string): void {
    const follower = this.#followers.get(sessionId);
    if (!follower) return;
    this.#followers.delete(sessionId);
    this.#sub?.client.unsubscribe(this.#eventsChannel(sessionId), follower.listener).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keeper.stop();
    for (const timer of this.#timers) this.#o.clock.clearTimeout(timer);
    this.#timers.clear();
    for (const pending of [...this.#pending.values()]) pending.resolve(undefined);
    this.#pending.clear();
    for (const wake of [...this.#sleepers]) wake();
    const owned = [...this.#owned];
    this.#owned.clear();
    // Released leases let the other nodes adopt this node's queued turns at once, not a TTL later.
    await Promise.all(owned.map((id) => this.#redis.script(RELEASE_LEASE, [this.#leaseKey(id)], [this.holder]).catch(() => {})));
    this.#followers.clear();
    await Promise.all([this.#sub?.close(), this.#leases?.close()]);
  }

  /** How this node's lease renewals went: how late they ran, how long leases went unrenewed, how many were given up. */
  leaseStats(): LeaseStats {
    return this.#keeper.stats();
  }

  /* ---------------------------------------------------------------- */

  #leaseKey(sessionId: string): string {
    return `${this.#store.keyPrefix}lease:${sessionId}`;
  }
  #nodeChannel(nodeId: string): string {
    return `${this.#store.keyPrefix}node:${nodeId}`;
  }
  #eventsChannel(sessionId: string): string {
    return `${this.#store.keyPrefix}ev:${sessionId}`;
  }

  /** Publish the command to `holder`; its reply, or `undefined` when nobody listens there or it did not answer before `deadline`. */
  async #forward(holder: string, command: RunnerCommand, deadline: number): Promise<RunnerReply | undefined> {
    const id = randomId();
    const replied = new Promise<RunnerReply | undefined>((resolve) => {
      this.#pending.set(id, { resolve });
      const timer = this.#o.clock.setTimeout(() => {
        this.#timers.delete(timer);
        this.#pending.delete(id);
        resolve(undefined);
      }, Math.max(0, deadline - this.#o.clock.now()));
      this.#timers.add(timer);
      const pending = this.#pending.get(id)!;
      pending.resolve = (reply) => {
        this.#o.clock.clearTimeout(timer);
        this.#timers.delete(timer);
        this.#pending.delete(id);
        resolve(reply);
      };
    });
    const message: BusMessage = { t: 'cmd', id, from: this.holder, command };
    const receivers = await this.#redis.command(['PUBLISH', this.#nodeChannel(holder), JSON.stringify(message)]).catch((error: unknown) => {
      this.#pending.get(id)?.resolve(undefined);
      throw error;
    });
    if (receivers === 0) this.#pending.get(id)?.resolve(undefined);
    return replied;
  }

  #onBus(raw: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(raw) as BusMessage;
    } catch {
      return;
    }
    if (message.t === 'reply') {
      this.#pending.get(message.id)?.resolve(message.reply);
      return;
    }
    if (message.t !== 'cmd' || !this.#handlers) return;
    const { id, from, command } = message;
    const answer = (reply: RunnerReply) => {
      const out: BusMessage = { t: 'reply', id, reply };
      this.#redis.command(['PUBLISH', this.#nodeChannel(from), JSON.stringify(out)]).catch((error: unknown) => {
        this.#o.logger.warn?.({ err: error, sessionId: command.sessionId }, 'agent-tether: could not answer a forwarded command');
      });
    };
    this.#handlers.command(command).then(answer, (error: unknown) =>
      answer({ ok: false, code: 'internal', message: error instanceof Error ? error.message : String(error), status: 500 }),
    );
  }

  /**
   * Hand `events` (or, when `undefined` or after a gap, what the store has
   * after the cursor) to the follower, in order. A read from the store (a
   * new follow, a reconnect) reads the record too: a share published while
   * this node was not listening is not missed.
   */
  #deliver(sessionId: string, follower: Follower, events: SessionEvent[] | undefined): void {
    if (events === undefined) this.#deliverRecord(sessionId, follower, undefined);
    follower.chain = follower.chain.then(async () => {
      if (this.#followers.get(sessionId) !== follower) return;
      let batch = events?.filter((event) => event.seq > follower.after) ?? [];
      if (events === undefined || (batch.length > 0 && batch[0]!.seq !== follower.after + 1)) {
        try {
          batch = await this.#readAfter(sessionId, follower.after);
        } catch (error) {
          this.#o.logger.warn?.({ err: error, sessionId }, 'agent-tether: could not read missed events from Redis');
          return;
        }
      }
      if (batch.length === 0) return;
      follower.after = batch.at(-1)!.seq;
      follower.onEvents(batch);
    });
  }

  async #readAfter(sessionId: string, after: number): Promise<SessionEvent[]> {
    const reply = (await this.#redis.command(['XRANGE', this.#store.keys(sessionId).log, `(${after}-0`, '+', 'COUNT', String(this.#o.maxEvents)])) as Array<
      [string, string[]]
    >;
    return reply.map(([, fields]) => JSON.parse(fields[1]!) as SessionEvent);
  }

  /** The keeper gave the lease up (no renewal confirmed in time) or Redis says another node holds it: stop running the session here. */
  #lose(sessionId: string, why: 'expired' | 'taken'): void {
    if (!this.#owned.delete(sessionId)) return;
    // Still ours in Redis if a late renewal made it after all: let another node adopt at once, not a TTL later.
    if (why === 'expired') void this.#redis.script(RELEASE_LEASE, [this.#leaseKey(sessionId)], [this.holder]).catch(() => {});
    this.#handlers?.lost(sessionId);
  }

  async #adoptOrphans(): Promise<void> {
    let orphans: string[];
    try {
      orphans = (await this.#redis.script(ORPHANED_SESSIONS, [`${this.#store.keyPrefix}unfinished-sessions`], [this.#store.keyPrefix])) as string[];
    } catch {
      return; // Redis is away; the store's own calls report it.
    }
    for (const sessionId of orphans) {
      if (this.#closed) return;
      if (this.#owned.has(sessionId)) continue;
      try {
        if (await this.acquire(sessionId)) this.#handlers?.adopted(sessionId);
      } catch {
        return;
      }
    }
  }

  /** Run `task` every `ms` (the next run is scheduled once this one settled, so runs never overlap). */
  #every(ms: number, task: () => Promise<void>): void {
    const tick = () => {
      if (this.#closed) return;
      const timer = this.#o.clock.setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#closed) return;
        task().then(tick, tick);
      }, ms);
      this.#timers.add(timer);
    };
    tick();
  }

  /** Wait `ms`, or less when the cluster closes. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#o.clock.clearTimeout(timer);
        this.#timers.delete(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = this.#o.clock.setTimeout(wake, ms);
      this.#timers.add(timer);
      this.#sleepers.add(wake);
    });
  }
}
