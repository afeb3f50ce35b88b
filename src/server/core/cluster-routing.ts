/** ClusterRouting: where a session's commands run when several server processes share a store — on the node holding its lease, forwarded there, or taken over here. */
import { sleep, type Clock } from '../../internal/clock.js';
import type { Logger } from '../../logging/logger.js';
import { applyRemote, asReplica } from './replica.js';
import type { ClusterHandlers, RunnerCommand, RunnerReply, SessionCluster } from './session-cluster.js';
import { ServerError, sessionNotFound } from './server-error.js';
import type { SessionLog } from './session-log.js';
import type { SessionRegistry } from './session-registry.js';
import { accessOf, type SessionState } from './session-state.js';
import { storeUnavailable } from './store-writer.js';

/** What a command of one kind does on the node running a session's turns; its result must be JSON. */
export type RunnerCommandHandler = (session: SessionState, args: any) => Promise<unknown>;

/** What {@link ClusterRouting} needs from the core. */
export interface ClusterRoutingOptions {
  /** The store's cluster; `undefined` with a store only this process uses (every command runs here). */
  cluster: SessionCluster | undefined;
  registry: SessionRegistry;
  clock: Clock;
  logger: Logger;
  /** Whether the server is shutting down (a draining node takes no session over). */
  isClosing(): boolean;
  /** The session here, or `session_not_found` (no cluster: every session runs here). */
  requireSession(sessionId: string): SessionState | Promise<SessionState>;
}

/**
 * Routes commands to a session's runner. Without a cluster every command runs
 * here. With one, exactly one node — the holder of the session's lease — runs
 * its turns and appends to its log; the others forward commands to it (a
 * cancel, a prompt, an input answer reach the turn from any node, F1/F3) and
 * keep a read replica that follows its events. When nobody holds the lease
 * the receiving node takes the session over; a replica it held is promoted
 * in place, so the streams open on it see the takeover with no gap.
 *
 * @example
 * const routing = new ClusterRouting({ cluster, registry, clock, logger, isClosing, requireSession });
 * routing.handle('cancel', (session, args) => cancelHere(session, args));
 * await routing.atRunner('cancel', sessionId, { turnId });
 */
export class ClusterRouting {
  #o: ClusterRoutingOptions;
  #commands = new Map<string, RunnerCommandHandler>();
  /** Logs of replicas this node is taking over, waiting for the stored session's restore to continue them. */
  #promoting = new Map<string, SessionLog>();

  constructor(options: ClusterRoutingOptions) {
    this.#o = options;
  }

  /** The store's cluster, when the store is shared. */
  get cluster(): SessionCluster | undefined {
    return this.#o.cluster;
  }

  /**
   * Register what a command of `kind` does on the node running a session's
   * turns. With one process it runs here; in a cluster, {@link atRunner}
   * carries it to the lease holder.
   */
  handle(kind: string, handler: RunnerCommandHandler): void {
    this.#commands.set(kind, handler);
  }

  /**
   * Run a registered command on the node that runs the session's turns (this
   * one without a cluster, or when it holds the lease), and resolve with its
   * result; a typed error it threw is thrown here.
   *
   * @throws {ServerError} `session_not_found` (404), `store_unavailable` (503), or the handler's own
   */
  async atRunner(kind: string, sessionId: string, args: unknown): Promise<unknown> {
    const handler = this.#commands.get(kind);
    if (!handler) throw new Error(`TetherCore: no runner command named ${kind}`);
    const cluster = this.#o.cluster;
    if (!cluster) {
      // A loaded session is used without a loop-turn hop, so commands run in arrival order (F1).
      const found = this.#o.requireSession(sessionId);
      return handler(found instanceof Promise ? await found : found, args);
    }
    const loaded = this.#o.registry.peek(sessionId);
    if (loaded && !loaded.replica && cluster.owns(sessionId)) {
      loaded.usedAt = this.#o.clock.now();
      return handler(loaded, args);
    }
    // Not ours: the lease holder runs it; nobody holds it → this node takes the session.
    for (let attempt = 0; attempt < 3; attempt++) {
      const reply = await storeCall(() => cluster.send({ kind, sessionId, args }));
      if (reply.ok) return reply.value;
      if (reply.code === 'no_runner') {
        if (this.#o.isClosing()) throw new ServerError('shutting_down', 'The server is shutting down', 503);
        if (!(await storeCall(() => cluster.acquire(sessionId)))) continue;
        return handler(await this.#ownedSession(sessionId), args);
      }
      if (reply.code === 'not_runner') continue;
      throw new ServerError(reply.code, reply.message, reply.status);
    }
    throw new ServerError('store_unavailable', 'The node running this session changed too often; retry', 503);
  }

  /** What the cluster asks of this node (pass to `SessionCluster#start`). */
  handlers(): ClusterHandlers {
    return {
      command: (command) => this.#runForwarded(command),
      adopted: (sessionId) => {
        if (this.#o.isClosing()) {
          void this.#o.cluster?.release(sessionId).catch(() => {});
          return;
        }
        // Loading it as the runner ends its running turn (`interrupted`) and starts its queue here.
        this.#ownedSession(sessionId).catch((error: unknown) => {
          this.#o.logger.warn?.({ err: error, sessionId }, 'agent-tether: could not take over a session');
          void this.#o.cluster?.release(sessionId).catch(() => {});
        });
      },
      lost: (sessionId) => {
        const session = this.#o.registry.peek(sessionId);
        if (!session || session.replica) return;
        this.#o.logger.warn?.({ sessionId }, 'agent-tether: lost the lease of a session; another node runs it now');
        for (const turn of session.turns.values()) turn.abort?.abort(new Error('The session moved to another node'));
        this.#o.registry.remove(sessionId);
      },
      unreachable: () => {
        const replicas = [...this.#o.registry.values()].filter((session) => session.replica);
        if (replicas.length > 0) this.#o.logger.warn?.({ sessions: replicas.length }, 'agent-tether: lost the live feed of the cluster; ending the streams of followed sessions');
        // Removing closes their logs: SSE responses end, WebSocket clients are told to resubscribe (F8).
        for (const session of replicas) this.#o.registry.remove(session.id);
      },
    };
  }

  /**
   * For a stored session being restored here: the log of the replica this
   * node is promoting (continued in place by the restore), or `undefined`.
   * A promotion whose lease moved on meanwhile is dropped (its streams end).
   */
  promotedLog(sessionId: string): SessionLog | undefined {
    const log = this.#promoting.get(sessionId);
    this.#promoting.delete(sessionId);
    if (log && !this.#o.cluster?.owns(sessionId)) {
      log.close();
      return undefined;
    }
    return log;
  }

  /**
   * A session just restored: when another node runs it, make it a replica
   * that follows what that node stores (the follow first reads what was
   * stored since the load) and return true; false when it runs here.
   */
  followIfReplica(session: SessionState): boolean {
    const cluster = this.#o.cluster;
    if (!cluster || cluster.owns(session.id)) return false;
    const registry = this.#o.registry;
    asReplica(session);
    cluster
      .follow(
        session.id,
        session.log.seq,
        (events) => {
          if (registry.peek(session.id) !== session) return;
          if (!applyRemote(session, events)) registry.remove(session.id);
        },
        (record) => {
          // The runner changed the record (a share): this node's access checks follow at once.
          if (registry.peek(session.id) !== session || record.id !== session.id) return;
          session.record = record;
          session.access = accessOf(record);
        },
      )
      .catch((error: unknown) => {
        this.#o.logger.warn?.({ err: error, sessionId: session.id }, 'agent-tether: could not follow a session');
        registry.remove(session.id);
      });
    return true;
  }

  /** Drain (cluster): no new turn starts here (the core is closing); wait up to `drainMs` for the running ones to end. */
  async drain(drainMs: number): Promise<void> {
    const clock = this.#o.clock;
    const deadline = clock.now() + drainMs;
    const never = new AbortController().signal;
    const running = () => [...this.#o.registry.values()].some((session) => !session.replica && session.active !== undefined);
    while (running() && clock.now() < deadline) await sleep(clock, 25, never);
  }

  /** A session left memory: a replica stops following, a runner gives its lease up. */
  dropped(session: SessionState): void {
    const cluster = this.#o.cluster;
    if (!cluster) return;
    if (session.replica) cluster.unfollow(session.id);
    else if (!this.#o.isClosing()) void cluster.release(session.id).catch(() => {});
  }

  /** A forwarded command, on the node that holds (or just took) the session's lease. */
  async #runForwarded(command: RunnerCommand): Promise<RunnerReply> {
    const handler = this.#commands.get(command.kind);
    if (!handler) return { ok: false, code: 'not_found', message: `Unknown runner command ${command.kind}`, status: 404 };
    try {
      if (!this.#o.cluster!.owns(command.sessionId)) return { ok: false, code: 'not_runner', message: 'Not the runner', status: 503 };
      const value = await handler(await this.#ownedSession(command.sessionId), command.args);
      return { ok: true, value: value ?? null };
    } catch (error) {
      if (error instanceof ServerError) return { ok: false, code: error.code, message: error.message, status: error.status };
      throw error;
    }
  }

  /**
   * The session as its runner (this node holds the lease): a replica held
   * here is replaced by the stored session, which continues the replica's log
   * object, so streams already open on this node see the takeover (the
   * `interrupted` terminal) and what follows, with no gap and no repeat.
   */
  async #ownedSession(sessionId: string): Promise<SessionState> {
    const registry = this.#o.registry;
    const loaded = registry.peek(sessionId);
    if (loaded?.replica) {
      registry.detach(sessionId);
      this.#promoting.set(sessionId, loaded.log);
    }
    let session: SessionState | undefined;
    try {
      session = await registry.get(sessionId);
    } finally {
      // Not taken by a restore (the load failed): its streams end, and their clients resume from their cursor.
      const left = this.#promoting.get(sessionId);
      if (left && left === loaded?.log) {
        this.#promoting.delete(sessionId);
        left.close();
      }
    }
    if (!session) {
      void this.#o.cluster?.release(sessionId).catch(() => {});
      throw sessionNotFound(sessionId);
    }
    return session;
  }
}

/** Run a call to the store or its cluster; any failure becomes `store_unavailable` (503). */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw storeUnavailable(error);
  }
}
