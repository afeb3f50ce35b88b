/** SessionCluster: what the core needs from a store shared by several server processes (runner leases, commands to the runner, live events from it). */
import type { SessionEvent } from '../../protocol/index.js';
import type { Clock } from '../../internal/clock.js';
import type { Logger } from '../../logging/logger.js';
import type { SessionRecord } from './session-store.js';

/**
 * A command for the node running a session's turns. `kind` names a handler
 * registered on every node with `TetherCore#handleRunnerCommand` (see `ClusterRouting`) (`prompt`,
 * `cancel`, and whatever else must reach the runner, e.g. an answer to an
 * input request); `args` is JSON.
 */
export interface RunnerCommand {
  kind: string;
  sessionId: string;
  args: unknown;
}

/** What the runner answered: a JSON value, or the typed error it threw (code, message, HTTP status). */
export type RunnerReply = { ok: true; value: unknown } | { ok: false; code: string; message: string; status: number };

/** What a node does for the cluster (the core implements it). */
export interface ClusterHandlers {
  /** Run a command another node forwarded (this node holds the session's lease). */
  command(command: RunnerCommand): Promise<RunnerReply>;
  /** This node took over a session whose runner died or left (it holds the lease now): load it and resume its queue. */
  adopted(sessionId: string): void;
  /** This node lost a session's lease (it could not renew in time): stop running its turns here. */
  lost(sessionId: string): void;
  /**
   * This node's live feed of other nodes' events broke (the store is
   * unreachable or restarting): the replicas it holds cannot follow, so their
   * streams end and their clients back off and resume from their cursor.
   */
  unreachable(): void;
}

/**
 * The capability a shared store offers (`SessionStore.cluster`). Exactly one
 * node — the holder of the session's lease — runs a session's turns and
 * appends to its log, so `seq` is assigned in one place; every other node
 * forwards commands to it and follows its events. The lease has a TTL and is
 * renewed while the node lives; when it lapses, another node adopts the
 * session (its running turn ends `interrupted`, its queue runs there).
 */
export interface SessionCluster {
  /** This node's id (unique per process). */
  readonly nodeId: string;
  /** How long a lease lives without renewal. */
  readonly leaseTtlMs: number;
  /** Start listening for commands, renewing leases and adopting orphaned sessions. */
  start(handlers: ClusterHandlers): Promise<void>;
  /** Become the session's runner if nobody is; whether this node is it now. */
  acquire(sessionId: string): Promise<boolean>;
  /** Whether this node holds the session's lease (as far as it knows). */
  owns(sessionId: string): boolean;
  /** Give the lease up (idle eviction, drain). */
  release(sessionId: string): Promise<void>;
  /**
   * Deliver a command to the session's runner and resolve with its reply;
   * `{ ok: false, code: 'no_runner' }` when no node holds the lease (the
   * caller acquires it and runs the command itself). A runner that does not
   * answer is waited out up to its lease TTL.
   */
  send(command: RunnerCommand): Promise<RunnerReply>;
  /**
   * Follow a session's events appended by other nodes, after `after`:
   * `onEvents` gets them in `seq` order, contiguous (gaps are filled from
   * the store). `onRecord` gets the session's record when the runner saves
   * it (a share), and once after following started (so a change between the
   * caller's load and the follow is not missed). Resolves once following (so
   * a load after it misses nothing).
   */
  follow(sessionId: string, after: number, onEvents: (events: SessionEvent[]) => void, onRecord?: (record: SessionRecord) => void): Promise<void>;
  unfollow(sessionId: string): void;
  /** Stop: leases released, connections closed. */
  close(): Promise<void>;
}

/** What a store's `cluster()` is given. */
export interface ClusterOptions {
  logger: Logger;
  clock: Clock;
  /** Events the store keeps per session (gap fills read at most this many). */
  maxEvents: number;
}
