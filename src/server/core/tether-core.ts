import { isTerminal, limits } from '../../protocol/index.js';
import type {
  CancelReply,
  PollReply,
  SessionEvent,
  SessionInfo,
  SessionSnapshot,
  TerminalEvent,
  TurnInfo,
  TurnStatus,
} from '../../protocol/index.js';
import type { Clock } from '../../internal/clock.js';
import { EventCursor } from './event-cursor.js';
import { nextLoopTurn, scheduleSoon } from './schedule.js';
import { ServerError } from './server-error.js';
import { SessionLog, type LogEntry, type NewEvent } from './session-log.js';
import type { Agent, AgentChunk, Logger, SessionRecord, SessionStore, TurnRecord } from './types.js';

/** Resolved options of a {@link TetherCore}; every field is required. */
export interface CoreOptions {
  agent: Agent;
  store: SessionStore;
  clock: Clock;
  logger: Logger;
  /** Events held per session for resuming; older ones are dropped (readers get a reset). */
  maxEventsPerSession: number;
  /** After a cancel, how long the next queued turn waits for the canceled agent to stop. */
  cancelGraceMs: number;
  /** Turns listed in a session snapshot. */
  maxSnapshotTurns: number;
}

/** A long-poll request: the cursor, how long to wait, and how much to answer with. */
export interface PollQuery {
  after?: number;
  epoch?: string;
  waitMs?: number;
  maxEvents?: number;
  signal?: AbortSignal;
}

interface TurnState {
  id: string;
  sessionId: string;
  status: TurnStatus;
  prompt: string;
  clientId: string | undefined;
  createdAt: number;
  queuedSeq: number;
  idempotencyKey: string | undefined;
  terminal: TerminalEvent | undefined;
  /** `seq` of the turn's `turn.started`, once appended. */
  startedSeq: number | undefined;
  output: string[];
  abort: AbortController | undefined;
  /** The agent's iteration has ended (returned, threw, or was never started). */
  agentSettled: boolean;
}

interface SessionState {
  id: string;
  epoch: string;
  createdAt: number;
  metadata: Record<string, unknown> | undefined;
  log: SessionLog;
  turns: Map<string, TurnState>;
  queue: TurnState[];
  /** The turn that owns the agent slot: running, or canceled but its agent not yet stopped. */
  active: TurnState | undefined;
  graceTimer: unknown;
  idempotency: Map<string, TurnState>;
  unsaved: SessionEvent[];
  flushScheduled: boolean;
}

/** What `prompt()` returns: the turn, and whether this call created it (false: idempotency key matched). */
export interface PromptResult {
  turn: TurnInfo;
  created: boolean;
}

// Yield to the event loop this often while draining an agent, so a agent that
// yields synchronously cannot starve sockets, timers and other sessions.
const CHUNKS_PER_LOOP_TURN = 64;

const yieldToLoop = nextLoopTurn;

/**
 * The transport-independent heart of the reference server: session registry,
 * append-only logs with retention and epochs, the per-session turn runner,
 * idempotency keys, cancel, and the read/wait primitives every event
 * transport is built from. It never touches a socket, so the Node host
 * (`createServer`) and in-memory handlers (msw) share it.
 *
 * Cancel semantics: a cancel ends the turn at once (`turn.canceled` is
 * appended before `cancel()` returns) and aborts the agent's `signal`. The
 * next queued turn starts as soon as the canceled agent stops — its iterable
 * returns or throws, or it yields again (the yield is dropped and the server
 * calls the iterator's `return()`) — or `cancelGraceMs` after the cancel,
 * whichever comes first. So two agents never overlap on one session unless
 * an agent ignores its signal for longer than `cancelGraceMs`.
 *
 * Events become visible to readers (cursors, polls) once the store has
 * accepted them (write-ahead), so a `seq` a client saw survives a crash.
 *
 * @example
 * const core = new TetherCore({ ...resolvedOptions });
 * await core.start();
 * const session = core.createSession();
 * const { turn } = core.prompt(session.id, { prompt: 'hi' });
 * const cursor = core.cursor(session.id, { after: 0 });
 */
export class TetherCore {
  #options: CoreOptions;
  #sessions = new Map<string, SessionState>();
  #started: Promise<void> | undefined;
  #closing = false;
  #timers = new Set<unknown>();

  constructor(options: CoreOptions) {
    this.#options = options;
  }

  /** Whether `shutdown()` was called. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Load the store and end turns a previous process left queued or running
   * with `turn.error` `interrupted` (appended with the next `seq`, so
   * cursor-resuming readers see it). Idempotent; call before anything else.
   */
  start(): Promise<void> {
    this.#started ??= this.#load();
    return this.#started;
  }

  async #load(): Promise<void> {
    const stored = await this.#options.store.load();
    for (const { record, events } of stored) {
      const lastEventSeq = events.at(-1)?.seq ?? 0;
      // Events the record knows of but the log lost: that history is gone.
      const epoch = record.seq > lastEventSeq ? newId() : record.epoch;
      const log = new SessionLog({
        sessionId: record.id,
        epoch,
        maxEvents: this.#options.maxEventsPerSession,
        seq: record.seq,
        events,
      });
      const session = this.#newSessionState(record.id, epoch, record.createdAt, record.metadata, log);
      for (const turnRecord of record.turns) {
        const turn = this.#newTurnState(session, turnRecord);
        turn.status = turnRecord.status;
        turn.terminal = turnRecord.terminal;
      }
      // The log may be newer than the record (records are written coalesced).
      for (const event of events) this.#replay(session, event);
      this.#sessions.set(session.id, session);
      const unfinished = [...session.turns.values()]
        .filter((turn) => !turn.terminal)
        .sort((a, b) => a.queuedSeq - b.queuedSeq);
      for (const turn of unfinished) {
        this.#finish(session, turn, {
          type: 'turn.error',
          error: { code: 'interrupted', message: 'The server restarted before the turn ended', retryable: true },
        });
      }
      if (unfinished.length === 0 && epoch !== record.epoch) this.#save(session);
    }
  }

  #replay(session: SessionState, event: SessionEvent): void {
    if (typeof event.turnId !== 'string') return;
    let turn = session.turns.get(event.turnId);
    if (!turn && event.type === 'turn.queued') {
      const queued = event as Extract<SessionEvent, { type: 'turn.queued' }>;
      turn = this.#newTurnState(session, {
        id: event.turnId,
        status: 'queued',
        prompt: queued.prompt,
        ...(queued.clientId === undefined ? {} : { clientId: queued.clientId }),
        createdAt: event.time,
        queuedSeq: event.seq,
      });
    }
    if (!turn || turn.terminal) return;
    if (event.type === 'turn.started') {
      turn.status = 'running';
      turn.startedSeq = event.seq;
    }
    if (isTerminal(event)) {
      turn.terminal = event;
      turn.status = statusOf(event);
    }
  }

  /* ---------------------------------------------------------------- *
   * Commands
   * ---------------------------------------------------------------- */

  /** Create a session. */
  createSession(options: { metadata?: Record<string, unknown> } = {}): SessionInfo {
    this.#assertStarted();
    const id = newId();
    const epoch = newId();
    const log = new SessionLog({ sessionId: id, epoch, maxEvents: this.#options.maxEventsPerSession });
    const session = this.#newSessionState(id, epoch, this.#options.clock.now(), options.metadata, log);
    this.#sessions.set(id, session);
    this.#save(session);
    return this.#sessionInfo(session);
  }

  /** A session's info, or `undefined` when unknown. */
  getSession(sessionId: string): SessionInfo | undefined {
    const session = this.#sessions.get(sessionId);
    return session && this.#sessionInfo(session);
  }

  /** A session and its most recent turns (oldest first), or `undefined` when unknown. */
  snapshot(sessionId: string): SessionSnapshot | undefined {
    const session = this.#sessions.get(sessionId);
    if (!session) return undefined;
    const turns = [...session.turns.values()].slice(-this.#options.maxSnapshotTurns).map((turn) => turnInfo(turn, session.log.seq));
    return { session: this.#sessionInfo(session), turns };
  }

  /** A turn's info, or `undefined` when the session or turn is unknown. */
  getTurn(sessionId: string, turnId: string): TurnInfo | undefined {
    const session = this.#sessions.get(sessionId);
    const turn = session?.turns.get(turnId);
    return turn && turnInfo(turn, session!.log.seq);
  }

  /**
   * Queue a prompt. With an `idempotencyKey` seen before in this session,
   * returns that turn (`created: false`) and creates nothing.
   *
   * @throws {ServerError} `not_found` (404), `shutting_down` (503)
   */
  prompt(sessionId: string, request: { prompt: string; clientId?: string; idempotencyKey?: string }): PromptResult {
    const session = this.#requireSession(sessionId);
    if (request.idempotencyKey !== undefined) {
      const existing = session.idempotency.get(request.idempotencyKey);
      if (existing) return { turn: turnInfo(existing, session.log.seq), created: false };
    }
    if (this.#closing) throw new ServerError('shutting_down', 'The server is shutting down', 503);
    const turn = this.#newTurnState(session, {
      id: newId(),
      status: 'queued',
      prompt: request.prompt,
      ...(request.clientId === undefined ? {} : { clientId: request.clientId }),
      createdAt: this.#options.clock.now(),
      queuedSeq: session.log.assignedSeq + 1,
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
    });
    this.#append(session, {
      type: 'turn.queued',
      turnId: turn.id,
      prompt: turn.prompt,
      ...(turn.clientId === undefined ? {} : { clientId: turn.clientId }),
    });
    session.queue.push(turn);
    this.#save(session);
    this.#startNext(session);
    // Hosts reply only once turn.queued is durable and visible, so the current state is right here.
    return { turn: turnInfo(turn, Number.POSITIVE_INFINITY), created: true };
  }

  /**
   * Cancel one turn (F1, F3): only the named turn is affected. Returns
   * `{cancelled:true}` when this call ended it, `{cancelled:false,
   * reason:'already_finished'}` when it already had its terminal (another
   * cancel won, or it completed first), and `undefined` for an unknown
   * session or turn. Never throws.
   */
  cancel(sessionId: string, turnId: string, request: { clientId?: string; reason?: string } = {}): CancelReply | undefined {
    const session = this.#sessions.get(sessionId);
    const turn = session?.turns.get(turnId);
    if (!session || !turn) return undefined;
    if (turn.terminal) return { cancelled: false, reason: 'already_finished' };
    this.#finish(session, turn, {
      type: 'turn.canceled',
      canceledBy: request.clientId ?? 'anonymous',
      reason: request.reason ?? 'canceled',
    });
    return { cancelled: true };
  }

  /**
   * Resolves once the session's events up to `seq` are in the store and
   * visible to readers (or the server shut down). Hosts await it before
   * acknowledging a prompt, so an acknowledged turn survives a crash.
   */
  async durable(sessionId: string, seq: number): Promise<void> {
    await this.#sessions.get(sessionId)?.log.waitFor(seq - 1);
  }

  /* ---------------------------------------------------------------- *
   * Reading
   * ---------------------------------------------------------------- */

  /**
   * A cursor into a session's log, for streaming transports (SSE, WebSocket).
   * `undefined` when the session is unknown.
   */
  cursor(sessionId: string, from: { after?: number; epoch?: string } = {}): EventCursor | undefined {
    const session = this.#sessions.get(sessionId);
    return session && new EventCursor(session.log, from.after ?? 0, from.epoch);
  }

  /**
   * One long-poll round: answers at once when events after `after` exist (or a
   * reset is due), otherwise waits up to `waitMs` (or until `signal` aborts or
   * the server shuts down) and answers with what arrived, maybe nothing.
   *
   * @throws {ServerError} `not_found` (404)
   */
  async poll(sessionId: string, query: PollQuery): Promise<PollReply> {
    const { entries, ...rest } = await this.pollEntries(sessionId, query);
    return { ...rest, events: entries.map((entry) => entry.event) };
  }

  /**
   * `poll()` with the log's entries, whose `json` is each event already
   * serialized: a host can write the reply without serializing the events again.
   *
   * @throws {ServerError} `not_found` (404)
   */
  async pollEntries(
    sessionId: string,
    query: PollQuery,
  ): Promise<Omit<PollReply, 'events'> & { entries: readonly LogEntry[] }> {
    const session = this.#requireSession(sessionId);
    const cursor = new EventCursor(session.log, query.after ?? 0, query.epoch);
    const take = { maxEvents: query.maxEvents ?? limits.maxPollEvents, maxBytes: limits.maxPollBytes };
    let batch = cursor.take(take);
    const waitMs = Math.min(Math.max(query.waitMs ?? 0, 0), limits.maxPollWaitMs);
    if (!batch.reset && batch.entries.length === 0 && waitMs > 0 && !session.log.closed) {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      query.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = this.#setTimer(() => controller.abort(), waitMs);
      try {
        await cursor.wait(controller.signal);
      } finally {
        this.#clearTimer(timer);
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

  /** Numbers for tests and benchmarks. */
  stats(): { sessions: number; events: number; runningTurns: number; queuedTurns: number } {
    let events = 0;
    let runningTurns = 0;
    let queuedTurns = 0;
    for (const session of this.#sessions.values()) {
      events += session.log.size;
      queuedTurns += session.queue.length;
      if (session.active && !session.active.terminal) runningTurns++;
    }
    return { sessions: this.#sessions.size, events, runningTurns, queuedTurns };
  }

  /* ---------------------------------------------------------------- *
   * Shutdown
   * ---------------------------------------------------------------- */

  /**
   * Stop: new prompts fail with `shutting_down`; every queued or running turn
   * ends with `turn.error` `shutting_down` (retryable) and its agent is
   * aborted; logs close (readers drain what is left, then end); pending
   * store writes are flushed. Does not wait for agents that ignore `signal`.
   */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const session of this.#sessions.values()) {
      const unfinished = [...session.turns.values()].filter((turn) => !turn.terminal);
      for (const turn of unfinished) {
        this.#finish(session, turn, {
          type: 'turn.error',
          error: { code: 'shutting_down', message: 'The server is shutting down', retryable: true },
        });
      }
      session.log.close();
    }
    for (const timer of this.#timers) this.#options.clock.clearTimeout(timer);
    this.#timers.clear();
    for (const session of this.#sessions.values()) this.#flushStore(session);
    try {
      await this.#options.store.close?.();
    } catch (error) {
      this.#options.logger.error?.({ err: error }, 'agent-tether: store failed to close');
    }
  }

  /* ---------------------------------------------------------------- *
   * Turn runner
   * ---------------------------------------------------------------- */

  #startNext(session: SessionState): void {
    if (session.active || this.#closing) return;
    const turn = session.queue.shift();
    if (!turn) return;
    session.active = turn;
    turn.status = 'running';
    turn.abort = new AbortController();
    turn.startedSeq = this.#append(session, { type: 'turn.started', turnId: turn.id }).seq;
    this.#save(session);
    void this.#run(session, turn, turn.abort.signal);
  }

  async #run(session: SessionState, turn: TurnState, signal: AbortSignal): Promise<void> {
    let iterator: AsyncIterator<AgentChunk> | Iterator<AgentChunk> | undefined;
    let done = false;
    try {
      const iterable = this.#options.agent({
        prompt: turn.prompt,
        signal,
        sessionId: session.id,
        turnId: turn.id,
        clientId: turn.clientId,
      });
      iterator = getIterator(iterable);
      let sinceLoopTurn = 0;
      for (;;) {
        const result = await iterator.next();
        // Yields after the terminal (cancel, shutdown) are ignored (F4).
        if (turn.terminal) break;
        if (result.done) {
          done = true;
          turn.agentSettled = true;
          this.#finish(session, turn, { type: 'turn.completed', output: turn.output.join('') });
          break;
        }
        this.#onChunk(session, turn, result.value);
        if (++sinceLoopTurn >= CHUNKS_PER_LOOP_TURN) {
          sinceLoopTurn = 0;
          await yieldToLoop();
          if (turn.terminal) break;
        }
      }
    } catch (error) {
      done = true;
      turn.agentSettled = true;
      if (!turn.terminal) {
        this.#options.logger.debug?.({ err: error }, 'agent-tether: agent failed');
        this.#finish(session, turn, {
          type: 'turn.error',
          error: { code: 'agent_error', message: errorMessage(error), retryable: false },
        });
      }
    }
    if (!done && iterator?.return) {
      // Let the agent's `finally` blocks run; do not wait for an agent that ignores us.
      try {
        void Promise.resolve(iterator.return()).catch(() => {});
      } catch {
        // a throwing return() is the agent's problem, not the server's
      }
    }
    turn.agentSettled = true;
    this.#release(session, turn);
  }

  #onChunk(session: SessionState, turn: TurnState, chunk: AgentChunk): void {
    if (chunk && chunk.type === 'delta' && typeof chunk.text === 'string') {
      if (chunk.text.length === 0) return;
      turn.output.push(chunk.text);
      this.#append(session, { type: 'turn.delta', turnId: turn.id, text: chunk.text });
    } else if (chunk && chunk.type === 'item' && typeof chunk.item === 'object' && chunk.item !== null && !Array.isArray(chunk.item)) {
      this.#append(session, { type: 'turn.item', turnId: turn.id, item: chunk.item });
    } else {
      throw new TypeError(`The agent yielded an invalid chunk: ${safeJson(chunk)}`);
    }
  }

  /** Append the turn's terminal unless it has one: the single place a turn ends. */
  #finish(session: SessionState, turn: TurnState, terminal: NewEvent): boolean {
    if (turn.terminal) return false;
    const event = this.#append(session, { ...terminal, turnId: turn.id }) as TerminalEvent;
    turn.terminal = event;
    turn.status = statusOf(event);
    turn.output = [];
    const queued = session.queue.indexOf(turn);
    if (queued >= 0) session.queue.splice(queued, 1);
    this.#save(session);
    if (session.active === turn && !turn.agentSettled) {
      turn.abort?.abort(new Error(`Turn ended: ${event.type}`));
      if (event.type === 'turn.canceled' && !this.#closing) {
        session.graceTimer = this.#setTimer(() => this.#release(session, turn), this.#options.cancelGraceMs);
      }
    }
    return true;
  }

  /** Free the session's agent slot held by `turn` and start the next queued turn. */
  #release(session: SessionState, turn: TurnState): void {
    if (session.active !== turn) return;
    session.active = undefined;
    if (session.graceTimer !== undefined) {
      this.#clearTimer(session.graceTimer);
      session.graceTimer = undefined;
    }
    this.#startNext(session);
  }

  /* ---------------------------------------------------------------- *
   * State and persistence
   * ---------------------------------------------------------------- */

  #append(session: SessionState, event: NewEvent): SessionEvent {
    const full = session.log.append(event, this.#options.clock.now());
    session.unsaved.push(full);
    if (!session.flushScheduled) {
      session.flushScheduled = true;
      // One store write (and one reader wake-up) per loop turn, not per event.
      scheduleSoon(() => this.#flushStore(session));
    }
    return full;
  }

  #flushStore(session: SessionState): void {
    session.flushScheduled = false;
    if (session.unsaved.length === 0) return;
    const events = session.unsaved;
    session.unsaved = [];
    const store = this.#options.store;
    const last = events.at(-1)!.seq;
    // Write-ahead: readers see events once the store has them. A failing store is
    // logged and the events are published anyway (availability over durability).
    const publish = () => session.log.publish(last);
    this.#guard(() => store.appendEvents(session.id, events), 'append events', publish);
    if (store.trimEvents && session.log.firstSeq > (events[0]?.seq ?? 0)) {
      const firstSeq = session.log.firstSeq;
      this.#guard(() => store.trimEvents!(session.id, firstSeq), 'trim events');
    }
  }

  #save(session: SessionState): void {
    const record: SessionRecord = {
      version: 1,
      id: session.id,
      epoch: session.epoch,
      createdAt: session.createdAt,
      ...(session.metadata === undefined ? {} : { metadata: session.metadata }),
      // The durable seq: a record never claims events the event log may not have yet.
      seq: session.log.seq,
      turns: [...session.turns.values()].map((turn) => turnRecord(turn)),
    };
    // Events appended in this tick reach the store before the record that mentions them.
    this.#flushStore(session);
    this.#guard(() => this.#options.store.saveSession(record), 'save session');
  }

  /** A failing store is logged, never allowed to crash the process or a turn. */
  #guard(fn: () => Promise<void>, what: string, then?: () => void): void {
    const fail = (error: unknown) => this.#options.logger.error?.({ err: error }, `agent-tether: store failed to ${what}`);
    try {
      Promise.resolve(fn()).then(
        () => then?.(),
        (error: unknown) => {
          fail(error);
          then?.();
        },
      );
    } catch (error) {
      fail(error);
      then?.();
    }
  }

  #newSessionState(
    id: string,
    epoch: string,
    createdAt: number,
    metadata: Record<string, unknown> | undefined,
    log: SessionLog,
  ): SessionState {
    return {
      id,
      epoch,
      createdAt,
      metadata,
      log,
      turns: new Map(),
      queue: [],
      active: undefined,
      graceTimer: undefined,
      idempotency: new Map(),
      unsaved: [],
      flushScheduled: false,
    };
  }

  #newTurnState(session: SessionState, record: TurnRecord): TurnState {
    const turn: TurnState = {
      id: record.id,
      sessionId: session.id,
      status: record.status,
      prompt: record.prompt,
      clientId: record.clientId,
      createdAt: record.createdAt,
      queuedSeq: record.queuedSeq,
      idempotencyKey: record.idempotencyKey,
      terminal: undefined,
      startedSeq: undefined,
      output: [],
      abort: undefined,
      agentSettled: false,
    };
    session.turns.set(turn.id, turn);
    if (turn.idempotencyKey !== undefined) session.idempotency.set(turn.idempotencyKey, turn);
    return turn;
  }

  #sessionInfo(session: SessionState): SessionInfo {
    const info: SessionInfo = {
      id: session.id,
      epoch: session.log.epoch,
      seq: session.log.seq,
      firstSeq: session.log.firstSeq,
      createdAt: session.createdAt,
      activeTurnId: session.active && !session.active.terminal ? session.active.id : null,
      queuedTurnIds: session.queue.map((turn) => turn.id),
    };
    if (session.metadata !== undefined) info.metadata = session.metadata;
    return info;
  }

  #requireSession(sessionId: string): SessionState {
    const session = this.#sessions.get(sessionId);
    if (!session) throw new ServerError('session_not_found', `Unknown session: ${sessionId}`, 404);
    return session;
  }

  #assertStarted(): void {
    if (!this.#started) throw new Error('TetherCore: call start() first');
  }

  #setTimer(fn: () => void, ms: number): unknown {
    const handle = this.#options.clock.setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, ms);
    this.#timers.add(handle);
    return handle;
  }

  #clearTimer(handle: unknown): void {
    this.#timers.delete(handle);
    this.#options.clock.clearTimeout(handle);
  }
}

/**
 * A turn as readers of the log up to `visible` know it. HTTP never runs ahead
 * of the streams: a client that learns a turn finished (F5 fallback, a
 * snapshot) can always fetch the events that led there, since events become
 * visible only once the store has them.
 */
function turnInfo(turn: TurnState, visible: number): TurnInfo {
  const terminal = turn.terminal && turn.terminal.seq <= visible ? turn.terminal : undefined;
  const status: TurnStatus = terminal
    ? turn.status
    : turn.startedSeq !== undefined && turn.startedSeq <= visible
      ? 'running'
      : 'queued';
  const info: TurnInfo = {
    id: turn.id,
    sessionId: turn.sessionId,
    status,
    prompt: turn.prompt,
    createdAt: turn.createdAt,
    queuedSeq: turn.queuedSeq,
  };
  if (turn.clientId !== undefined) info.clientId = turn.clientId;
  if (terminal) info.terminal = terminal;
  return info;
}

function turnRecord(turn: TurnState): TurnRecord {
  const record: TurnRecord = {
    id: turn.id,
    status: turn.status,
    prompt: turn.prompt,
    createdAt: turn.createdAt,
    queuedSeq: turn.queuedSeq,
  };
  if (turn.clientId !== undefined) record.clientId = turn.clientId;
  if (turn.idempotencyKey !== undefined) record.idempotencyKey = turn.idempotencyKey;
  if (turn.terminal) record.terminal = turn.terminal;
  return record;
}


function statusOf(event: TerminalEvent): TurnStatus {
  return event.type === 'turn.completed' ? 'completed' : event.type === 'turn.canceled' ? 'canceled' : 'error';
}

function getIterator(iterable: unknown): AsyncIterator<AgentChunk> | Iterator<AgentChunk> {
  if (iterable && typeof (iterable as AsyncIterable<AgentChunk>)[Symbol.asyncIterator] === 'function') {
    return (iterable as AsyncIterable<AgentChunk>)[Symbol.asyncIterator]();
  }
  if (iterable && typeof (iterable as Iterable<AgentChunk>)[Symbol.iterator] === 'function') {
    return (iterable as Iterable<AgentChunk>)[Symbol.iterator]();
  }
  throw new TypeError('The agent must return an AsyncIterable or Iterable of chunks');
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : 'The agent failed';
}

function safeJson(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}

function newId(): string {
  return globalThis.crypto.randomUUID();
}
