/** TetherCore: the reference server's commands and reads over sessions, independent of any socket. */
import { limits } from '../../protocol/index.js';
import type { CancelReply, InputAnswer, PollReply, RespondReply, SessionInfo, SessionSnapshot, TurnInfo } from '../../protocol/index.js';
import type { Clock } from '../../internal/clock.js';
import { randomId } from '../../internal/random-id.js';
import { EventCursor } from './event-cursor.js';
import { answerInput, deliverAnswer } from './input-requests.js';
import { restoreSession } from './recovery.js';
import { ClusterRouting, storeCall } from './cluster-routing.js';
import type { SessionCluster } from './session-cluster.js';
import { ServerError, sessionNotFound } from './server-error.js';
import { SessionLog, type LogEntry } from './session-log.js';
import { SessionRegistry, type SessionStats } from './session-registry.js';
import type { SessionRecord, SessionStore, StoredSession } from './session-store.js';
import { addTurn, appendEvent, saveRecord, saveTurn, sessionInfo, type SessionState } from './session-state.js';
import { StoreHealth, StoreWriter, storeUnavailable } from './store-writer.js';
import { TimerSet } from './timer-set.js';
import { TurnRunner } from './turn-runner.js';
import { turnFromRecord, turnInfo, type TurnState } from './turn-state.js';
import { snapshotTurn } from '../limits/snapshot-text.js';
import type { Agent, InputPolicy, Logger } from './types.js';
import type { CancelRequest, CoreHealth, PollQuery, PromptRequest, PromptResult, RespondRequest } from './core-requests.js';
import type { SessionAccess } from '../security/principal.js';

export type { CancelRequest, CoreHealth, PollQuery, PromptRequest, PromptResult } from './core-requests.js';

/** Resolved options of a {@link TetherCore}; every field is required. */
export interface CoreOptions {
  agent: Agent;
  store: SessionStore;
  clock: Clock;
  logger: Logger;
  /** Events held per session for resuming, in memory and in the store; older ones are dropped (readers get a reset). */
  maxEventsPerSession: number;
  /** After a cancel, how long the next queued turn waits for the canceled agent to stop. */
  cancelGraceMs: number;
  /** Turns listed in a session snapshot. */
  maxSnapshotTurns: number;
  /** A session with nothing in flight leaves memory after this long (it comes back from the store on use). */
  sessionIdleMs: number;
  /** How long an idempotency key finds its turn. */
  idempotencyTtlMs: number;
  /** Answers agents' input requests without a client; `undefined`: only clients answer. */
  inputPolicy?: InputPolicy | undefined;
  /** A snapshot cuts each turn's prompt and output to this many characters. @default no cut */
  maxSnapshotTextChars?: number;
}

/**
 * The transport-independent heart of the reference server. It never touches
 * a socket, so the Node host (`createServer`) and in-memory handlers (msw)
 * share it. Its parts, one file each:
 *
 * - {@link SessionRegistry}: sessions in memory, loaded lazily, evicted when idle.
 * - {@link TurnRunner}: the per-session queue and agent runs; cancel semantics.
 * - {@link StoreWriter}: ordered, batched, retried writes; "acknowledged = stored".
 * - {@link restoreSession} (recovery): stored sessions back in memory.
 * - {@link SessionLog} / {@link EventCursor}: the log readers resume from.
 *
 * Commands resolve only once what they changed is in the store; a store
 * that cannot take it makes them reject with `store_unavailable` (503).
 * Events become visible to readers once the store has them (write-ahead), so
 * a `seq` a client saw survives a crash.
 *
 * @example
 * const core = new TetherCore({ ...resolvedOptions });
 * await core.start();
 * const session = await core.createSession();
 * const { turn } = await core.prompt(session.id, { prompt: 'hi' });
 * const cursor = await core.cursor(session.id, { after: 0 });
 */
export class TetherCore {
  #o: CoreOptions;
  #timers: TimerSet;
  #health: StoreHealth;
  #runner: TurnRunner;
  #registry: SessionRegistry;
  #started: Promise<void> | undefined;
  #closing = false;
  /** Present when the store is shared by several processes: sessions run on the node holding their lease. */
  #cluster: SessionCluster | undefined;
  /** Where each command runs: here, or on the session's runner in a cluster. */
  #routing: ClusterRouting;

  constructor(options: CoreOptions) {
    this.#o = options;
    this.#timers = new TimerSet(options.clock);
    this.#health = new StoreHealth(options.logger);
    this.#runner = new TurnRunner({
      agent: options.agent,
      logger: options.logger,
      timers: this.#timers,
      cancelGraceMs: options.cancelGraceMs,
      isClosing: () => this.#closing,
      newId,
      inputPolicy: options.inputPolicy,
    });
    this.#registry = new SessionRegistry({
      store: options.store,
      timers: this.#timers,
      logger: options.logger,
      maxEvents: options.maxEventsPerSession,
      idleMs: options.sessionIdleMs,
      restore: (stored) => this.#restore(stored),
      dropped: (session) => this.#routing.dropped(session),
    });
    this.#cluster = options.store.cluster?.({ logger: options.logger, clock: options.clock, maxEvents: options.maxEventsPerSession });
    this.#routing = new ClusterRouting({
      cluster: this.#cluster,
      registry: this.#registry,
      clock: options.clock,
      logger: options.logger,
      isClosing: () => this.#closing,
      requireSession: (sessionId) => this.#requireSession(sessionId),
    });
    this.handleRunnerCommand('prompt', (session, args: PromptRequest) => this.#promptHere(session, args));
    this.handleRunnerCommand('cancel', async (session, args: { turnId: string } & CancelRequest) =>
      (await this.#cancelHere(session, args.turnId, args)) ?? null,
    );
    this.handleRunnerCommand('respond', async (session, args: RespondRequest) => (await this.#respondHere(session, args)) ?? null);
    this.handleRunnerCommand('share', (session, args: { principalIds: string[] }) => this.#shareHere(session, args.principalIds));
  }

  /**
   * Register what a command of `kind` does on the node running a session's
   * turns. With one process it runs here; in a cluster, {@link atRunner}
   * carries it to the lease holder. Its result must be JSON.
   */
  handleRunnerCommand<A>(kind: string, handler: (session: SessionState, args: A) => Promise<unknown>): void {
    this.#routing.handle(kind, handler);
  }

  /**
   * Run a registered command on the node that runs the session's turns, and
   * resolve with its result (see {@link ClusterRouting#atRunner}).
   *
   * @throws {ServerError} `session_not_found` (404), `store_unavailable` (503), or the handler's own
   */
  atRunner(kind: string, sessionId: string, args: unknown): Promise<unknown> {
    return this.#routing.atRunner(kind, sessionId, args);
  }

  /** Whether `shutdown()` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Check the store, then end the turns a previous process left queued or
   * running with `turn.error` `interrupted` (appended with the next `seq`, so
   * cursor-resuming readers see it) and wait until those are stored. Only
   * the sessions with such turns are loaded. Idempotent; call before anything
   * else, and before accepting requests.
   */
  start(): Promise<void> {
    this.#started ??= this.#recover();
    return this.#started;
  }

  async #recover(): Promise<void> {
    await this.#o.store.open?.();
    if (this.#cluster) {
      // Sessions left unfinished by a node that is gone are adopted by the cluster's scan, one lease at a time.
      await this.#cluster.start(this.#routing.handlers());
      return;
    }
    const unfinished = await this.#o.store.unfinishedTurns();
    const sessionIds = [...new Set(unfinished.map((turn) => turn.sessionId))];
    for (const sessionId of sessionIds) {
      const session = await this.#registry.get(sessionId);
      await session?.writer.flush();
    }
  }

  #restore(stored: StoredSession): SessionState {
    const cluster = this.#cluster;
    const { session, unfinished, record } = restoreSession(stored, {
      continueLog: this.#routing.promotedLog(stored.record.id),
      maxEvents: this.#o.maxEventsPerSession,
      logger: this.#o.logger,
      now: this.#o.clock.now(),
      newId,
      writer: (sessionId, log) => this.#writer(sessionId, log),
    });
    // Another node runs it: this is a replica that follows what that node stores.
    if (this.#routing.followIfReplica(session)) return session;
    if (record) this.#saveRecord(record);
    for (const turn of unfinished) {
      // In a cluster this node took the session over: only the turn that was running is lost; the queue runs here.
      if (cluster && turn.status !== 'running') {
        session.queue.push(turn);
        continue;
      }
      this.#runner.finish(session, turn, {
        type: 'turn.error',
        error: cluster
          ? { code: 'interrupted', message: 'The node running the turn stopped before the turn ended', retryable: true }
          : { code: 'interrupted', message: 'The server restarted before the turn ended', retryable: true },
      });
    }
    if (cluster) this.#runner.startNext(session);
    return session;
  }

  /** Save a session record and wait for it; a failing store is `store_unavailable` (503). */
  async #storeRecord(record: SessionRecord): Promise<void> {
    try {
      await this.#o.store.saveSession(record);
      this.#health.succeeded(RECORDS);
    } catch (error) {
      this.#health.failed(RECORDS, error, false);
      throw storeUnavailable(error);
    }
  }

  #saveRecord(record: SessionRecord): void {
    this.#o.store.saveSession(record).then(
      () => this.#health.succeeded(RECORDS),
      (error: unknown) => this.#health.failed(RECORDS, error, false),
    );
  }

  #writer(sessionId: string, log: SessionLog): StoreWriter {
    const writer: StoreWriter = new StoreWriter({
      sessionId,
      store: this.#o.store,
      health: this.#health,
      timers: this.#timers,
      maxEvents: this.#o.maxEventsPerSession,
      onStored: (seq) => log.publish(seq),
      onFailed: () => {
        // Only while this writer's session is the live one (not after an eviction and reload).
        const session = this.#registry.peek(sessionId);
        if (session?.writer === writer) this.#onStoreFailed(session);
      },
    });
    return writer;
  }

  /** The store cannot take a session's writes: its unfinished turns end with a typed error (stored once it recovers). */
  #onStoreFailed(session: SessionState): void {
    for (const turn of [...session.turns.values()]) {
      if (turn.terminal) continue;
      // A retry of the prompt must make a new turn, not find this failed one.
      if (turn.idempotencyKey !== undefined) session.idempotency.delete(turn.idempotencyKey);
      this.#runner.finish(session, turn, {
        type: 'turn.error',
        error: { code: 'store_unavailable', message: 'The session store failed; the turn was ended', retryable: true },
      });
    }
  }

  /* ---------------------------------------------------------------- *
   * Commands
   * ---------------------------------------------------------------- */

  /**
   * Create a session; resolves once its record is stored.
   *
   * @throws {ServerError} `shutting_down` (503), `store_unavailable` (503)
   */
  async createSession(options: { metadata?: Record<string, unknown>; owner?: string; sharedWith?: string[] } = {}): Promise<SessionInfo> {
    this.#assertStarted();
    if (this.#closing) throw new ServerError('shutting_down', 'The server is shutting down', 503);
    const record: SessionRecord = {
      version: 2,
      id: newId(),
      epoch: newId(),
      createdAt: this.#o.clock.now(),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      ...(options.sharedWith === undefined ? {} : { sharedWith: [...new Set(options.sharedWith)] }),
    };
    await this.#storeRecord(record);
    // A new session runs where it was created (a fresh id: the lease is free).
    if (this.#cluster) await storeCall(() => this.#cluster!.acquire(record.id));
    const session = restoreSession(
      { record, turns: [], events: [] },
      {
        maxEvents: this.#o.maxEventsPerSession,
        logger: this.#o.logger,
        now: this.#o.clock.now(),
        newId,
        writer: (sessionId, log) => this.#writer(sessionId, log),
      },
    ).session;
    this.#registry.add(session);
    return sessionInfo(session);
  }

  /** A session's info, or `undefined` when unknown or expired. */
  async getSession(sessionId: string): Promise<SessionInfo | undefined> {
    const session = await this.#registry.get(sessionId);
    return session && sessionInfo(session);
  }

  /** Who may see a session (its record's `owner` and `sharedWith`), or `undefined` when unknown or expired. */
  async sessionAccess(sessionId: string): Promise<SessionAccess | undefined> {
    const found = this.#requireSession(sessionId);
    try {
      return (found instanceof Promise ? await found : found).access;
    } catch (error) {
      if (error instanceof ServerError && error.code === 'session_not_found') return undefined;
      throw error;
    }
  }

  /**
   * Share a session with more principals (added to `sharedWith`); resolves
   * once the record is stored.
   *
   * @throws {ServerError} `session_not_found` (404), `store_unavailable` (503)
   */
  async shareSession(sessionId: string, principalIds: readonly string[]): Promise<SessionAccess> {
    if (!Array.isArray(principalIds) || !principalIds.every((id) => typeof id === 'string' && id.length > 0)) {
      throw new TypeError('shareSession: `principalIds` must be an array of non-empty strings');
    }
    // The runner writes the record (in order with its other record saves); in a cluster the other nodes get it from there.
    return (await this.#routing.atRunner('share', sessionId, { principalIds: [...principalIds] })) as SessionAccess;
  }

  async #shareHere(session: SessionState, principalIds: readonly string[]): Promise<SessionAccess> {
    const sharedWith = [...new Set([...(session.access.sharedWith ?? []), ...principalIds])];
    // The record whole (agent state included), through the session's writer: in order with its other record saves.
    saveRecord(session, { ...session.record, sharedWith });
    await session.writer.flush();
    session.access = { ...session.access, sharedWith };
    return session.access;
  }

  /** A session and its most recent turns (oldest first), or `undefined` when unknown. */
  async snapshot(sessionId: string): Promise<SessionSnapshot | undefined> {
    const session = await this.#registry.get(sessionId);
    if (!session) return undefined;
    const maxChars = this.#o.maxSnapshotTextChars ?? Number.POSITIVE_INFINITY;
    const turns = [...session.turns.values()].slice(-this.#o.maxSnapshotTurns).map((turn) => snapshotTurn(turnInfo(turn, session.log.seq), maxChars));
    return { session: sessionInfo(session), turns };
  }

  /**
   * A turn's info; `undefined` when the turn is unknown.
   *
   * @throws {ServerError} `session_not_found` (404)
   */
  async getTurn(sessionId: string, turnId: string): Promise<TurnInfo | undefined> {
    const session = await this.#requireSession(sessionId);
    const turn = session.turns.get(turnId);
    return turn && turnInfo(turn, session.log.seq);
  }

  /**
   * Queue a prompt; resolves once `turn.queued` and the turn record are
   * stored. With an `idempotencyKey` seen before in this session (within
   * `idempotencyTtlMs`), returns that turn (`created: false`) and creates nothing.
   *
   * @throws {ServerError} `session_not_found` (404), `shutting_down` (503), `store_unavailable` (503)
   */
  async prompt(sessionId: string, request: PromptRequest): Promise<PromptResult> {
    return (await this.#routing.atRunner('prompt', sessionId, request)) as PromptResult;
  }

  async #promptHere(session: SessionState, request: PromptRequest): Promise<PromptResult> {
    if (request.idempotencyKey !== undefined) {
      const existing = session.idempotency.get(request.idempotencyKey);
      if (existing && this.#o.clock.now() - existing.createdAt <= this.#o.idempotencyTtlMs) {
        // It may still be on its way to the store (a retry racing the first attempt).
        await session.writer.flush();
        return { turn: turnInfo(existing, session.log.seq), created: false };
      }
    }
    // A draining cluster node still queues prompts for the sessions it runs: the queue moves to another node once it leaves.
    if (this.#closing && !this.#cluster) throw new ServerError('shutting_down', 'The server is shutting down', 503);
    if (session.writer.failing) throw storeUnavailable(new Error('earlier writes of this session are not stored yet'));
    const turn = addTurn(
      session,
      turnFromRecord(session.id, {
        id: newId(),
        status: 'queued',
        prompt: request.prompt,
        ...(request.clientId === undefined ? {} : { clientId: request.clientId }),
        createdAt: this.#o.clock.now(),
        queuedSeq: session.log.assignedSeq + 1,
        ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      }),
    );
    appendEvent(
      session,
      { type: 'turn.queued', turnId: turn.id, prompt: turn.prompt, ...(turn.clientId === undefined ? {} : { clientId: turn.clientId }) },
      this.#o.clock.now(),
    );
    saveTurn(session, turn);
    session.queue.push(turn);
    this.#runner.startNext(session);
    // The reply says what the prompt did; it is sent once that is stored.
    const info = turnInfo(turn, Number.POSITIVE_INFINITY);
    await session.writer.flush();
    return { turn: info, created: true };
  }

  /**
   * Cancel one turn (F1, F3): only the named turn is affected. Resolves to
   * `{cancelled:true}` once this call ended it and the end is stored,
   * `{cancelled:false, reason:'already_finished'}` when it already had its
   * terminal (another cancel won, or it completed first), and `undefined`
   * for an unknown turn.
   *
   * @throws {ServerError} `session_not_found` (404), `store_unavailable` (503)
   */
  async cancel(sessionId: string, turnId: string, request: CancelRequest = {}): Promise<CancelReply | undefined> {
    return ((await this.#routing.atRunner('cancel', sessionId, { ...request, turnId })) as CancelReply | null) ?? undefined;
  }

  async #cancelHere(session: SessionState, turnId: string, request: CancelRequest): Promise<CancelReply | undefined> {
    const turn = session.turns.get(turnId);
    if (!turn) return undefined;
    if (turn.terminal) return { cancelled: false, reason: 'already_finished' };
    this.#runner.finish(session, turn, {
      type: 'turn.canceled',
      canceledBy: request.clientId ?? 'anonymous',
      reason: request.reason ?? 'canceled',
    });
    await session.writer.flush();
    return { cancelled: true };
  }

  /**
   * Answer one of a turn's input requests (the first answer wins). Resolves
   * to `{accepted:true}` once the answer is stored (the agent gets it then),
   * `{accepted:false, reason}` when another answer won (`already_answered`)
   * or the turn ended first (`turn_ended`), and `undefined` for an unknown
   * turn. Like a cancel, it must run on the node that runs the turn.
   *
   * @throws {ServerError} `session_not_found` (404), `not_found` (404, unknown request), `invalid_answer` (400), `store_unavailable` (503)
   */
  async respond(
    sessionId: string,
    turnId: string,
    requestId: string,
    answer: InputAnswer,
    caller: { clientId?: string } = {},
  ): Promise<RespondReply | undefined> {
    const request: RespondRequest = { turnId, requestId, answer, ...(caller.clientId === undefined ? {} : { clientId: caller.clientId }) };
    // In a cluster the waiting agent runs on the lease holder: the answer travels there, like a cancel.
    return ((await this.#routing.atRunner('respond', sessionId, request)) as RespondReply | null) ?? undefined;
  }

  async #respondHere(session: SessionState, request: RespondRequest): Promise<RespondReply | undefined> {
    const turn = session.turns.get(request.turnId);
    if (!turn) return undefined;
    const reply = answerInput(session, turn, request.requestId, request.answer, request.clientId, 'client', this.#o.clock.now());
    if (!reply) throw new ServerError('not_found', `Unknown input request: ${request.requestId}`, 404);
    await session.writer.flush();
    if (reply.accepted) deliverAnswer(turn, request.requestId);
    return reply;
  }

  /**
   * Resolves once the session's events up to `seq` are in the store and
   * visible to readers (or the server shut down). Commands already wait for
   * this; hosts may use it for events they did not cause.
   */
  async durable(sessionId: string, seq: number): Promise<void> {
    await this.#registry.peek(sessionId)?.log.waitFor(seq - 1);
  }

  /* ---------------------------------------------------------------- *
   * Reading
   * ---------------------------------------------------------------- */

  /**
   * A cursor into a session's log, for streaming transports (SSE, WebSocket).
   * `undefined` when the session is unknown.
   */
  async cursor(sessionId: string, from: { after?: number; epoch?: string } = {}): Promise<EventCursor | undefined> {
    const session = await this.#registry.get(sessionId);
    return session && new EventCursor(session.log, from.after ?? 0, from.epoch);
  }

  /**
   * One long-poll round: answers at once when events after `after` exist (or a
   * reset is due), otherwise waits up to `waitMs` (or until `signal` aborts or
   * the server shuts down) and answers with what arrived, maybe nothing.
   *
   * @throws {ServerError} `session_not_found` (404)
   */
  async poll(sessionId: string, query: PollQuery): Promise<PollReply> {
    const { entries, ...rest } = await this.pollEntries(sessionId, query);
    return { ...rest, events: entries.map((entry) => entry.event) };
  }

  /**
   * `poll()` with the log's entries, whose `json` is each event already
   * serialized: a host can write the reply without serializing the events again.
   *
   * @throws {ServerError} `session_not_found` (404)
   */
  async pollEntries(
    sessionId: string,
    query: PollQuery,
  ): Promise<Omit<PollReply, 'events'> & { entries: readonly LogEntry[] }> {
    const session = await this.#requireSession(sessionId);
    const cursor = new EventCursor(session.log, query.after ?? 0, query.epoch);
    const take = { maxEvents: query.maxEvents ?? limits.maxPollEvents, maxBytes: limits.maxPollBytes };
    let batch = cursor.take(take);
    const waitMs = Math.min(Math.max(query.waitMs ?? 0, 0), limits.maxPollWaitMs);
    if (!batch.reset && batch.entries.length === 0 && waitMs > 0 && !session.log.closed) {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      query.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = this.#timers.set(() => controller.abort(), waitMs);
      try {
        await cursor.wait(controller.signal);
      } finally {
        this.#timers.cancel(timer);
        query.signal?.removeEventListener('abort', onAbort);
      }
      batch = cursor.take(take);
    }
    return {
      epoch: session.log.epoch,
      entries: batch.entries,
      next: cursor.after,
      ...(batch.reset ? { reset: batch.reset } : {}),
    };
  }

  /** Numbers for tests and benchmarks, about the sessions in memory. */
  stats(): SessionStats {
    return this.#registry.stats();
  }

  /** Sessions and storage, for `GET /v1/health`: never throws; a failing store reports `store_unavailable`. */
  async health(): Promise<CoreHealth> {
    const mem = this.stats();
    let stored: { sessions: number; bytes: number } | undefined;
    try {
      stored = await this.#o.store.stats();
    } catch (error) {
      this.#o.logger.debug?.({ err: error }, 'agent-tether: store stats failed');
    }
    return {
      status: this.#health.failing || !stored ? 'store_unavailable' : 'ok',
      sessionsInMemory: mem.sessions,
      sessionsStored: stored?.sessions ?? null,
      eventsHeld: mem.events,
      bytesHeld: mem.bytes,
      bytesStored: stored?.bytes ?? null,
    };
  }

  /** Drop idle sessions from memory now (also done on a timer every `sessionIdleMs / 4`). Returns how many left. */
  evictIdle(): number {
    return this.#registry.evictIdle();
  }

  /* ---------------------------------------------------------------- *
   * Shutdown
   * ---------------------------------------------------------------- */

  /**
   * Stop: new prompts fail with `shutting_down`; every queued or running turn
   * ends with `turn.error` `shutting_down` (retryable) and its agent is
   * aborted; logs close (readers drain what is left, then end); pending
   * store writes are attempted once more (not retried through an outage).
   * Does not wait for agents that ignore `signal`.
   */
  async shutdown(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#registry.close();
    if (this.#cluster) await this.#routing.drain(options.drainMs ?? 0);
    const sessions = [...this.#registry.values()];
    for (const session of sessions) {
      if (session.replica) continue;
      for (const turn of [...session.turns.values()]) {
        if (turn.terminal) continue;
        // In a cluster, queued turns stay queued in the store: another node adopts them once this one released its leases.
        if (this.#cluster && session.queue.includes(turn)) continue;
        this.#runner.finish(session, turn, {
          type: 'turn.error',
          error: { code: 'shutting_down', message: 'The server is shutting down', retryable: true },
        });
      }
    }
    for (const session of sessions) session.writer.close();
    await Promise.all(sessions.map((session) => session.writer.settled()));
    for (const session of sessions) session.log.close();
    this.#timers.clear();
    try {
      await this.#cluster?.close();
    } catch (error) {
      this.#o.logger.error?.({ err: error }, 'agent-tether: cluster failed to close');
    }
    try {
      await this.#o.store.close?.();
    } catch (error) {
      this.#o.logger.error?.({ err: error }, 'agent-tether: store failed to close');
    }
  }

  /**
   * The session, or `session_not_found`. A loaded session is returned without
   * a loop-turn hop, so commands run in arrival order and a cancel racing a
   * completion is decided by which came first (F1).
   */
  #requireSession(sessionId: string): SessionState | Promise<SessionState> {
    const loaded = this.#registry.peek(sessionId);
    if (loaded) {
      loaded.usedAt = this.#o.clock.now();
      return loaded;
    }
    return this.#loadSession(sessionId);
  }

  async #loadSession(sessionId: string): Promise<SessionState> {
    const session = await this.#registry.get(sessionId);
    if (!session) throw sessionNotFound(sessionId);
    return session;
  }

  #assertStarted(): void {
    if (!this.#started) throw new Error('TetherCore: call start() first');
  }
}

// The health key of session-record writes (not tied to one session: a failed create has no session to retry).
const RECORDS = '(session records)';

// Runs inside msw handlers in a browser too, where an insecure page has no crypto.randomUUID.
function newId(): string {
  return randomId();
}

export type { TurnState };
