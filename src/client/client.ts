/** `createClient` and the client that ties commands, the connection, sessions and cursors together. */
import { ClosedError, ConnectionError, HttpError, type TetherError } from '../errors/index.js';
import { waitAtMost, type Clock } from '../internal/clock.js';
import { replyChecks } from '../protocol/checks.js';
import { routes } from '../protocol/constants.js';
import { finalScope } from '../transport/final-answers.js';
import type { SessionSnapshot } from '../protocol/index.js';
import type { ClientState } from './client-state.js';
import { ConnectionManager, type ManagerEvents } from './connection-manager.js';
import type { ClientContext, CommandOptions } from './context.js';
import type { StoredCursor } from './cursor-store.js';
import { Emitter } from './emitter.js';
import { HttpClient } from './http-client.js';
import type { ClientOptions } from './options.js';
import { CommandTracker } from './command-tracker.js';
import { SessionImpl, type Session } from './session.js';
import { resolveSettings, type ClientHooks, type ClientSettings } from './settings.js';
import type { TurnImpl } from './turn.js';

/** Options of `client.createSession`. */
export interface CreateSessionOptions {
  metadata?: Record<string, unknown> | undefined;
  signal?: AbortSignal | undefined;
}

/** The events `client.on` accepts. */
export interface ClientEvents {
  /** Every state change, with the state before it. */
  state: (state: ClientState, prev: ClientState) => void;
  /** Errors that no call awaits: a bad frame (`ProtocolError`), a dropped connection, a give-up. */
  error: (error: TetherError) => void;
}

/**
 * A connection to an agent-tether server. Create with `createClient`.
 *
 * @example
 * await using client = createClient({ baseUrl: 'http://127.0.0.1:4317' });
 * client.on('state', (s) => console.log(s.status));
 */
export interface Client extends AsyncDisposable {
  readonly clientId: string;
  /** The connection state (a tagged union on `status`). */
  readonly state: ClientState;
  /** Listen to `'state'` or `'error'`; returns the unsubscribe function. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void;
  createSession(options?: CreateSessionOptions): Promise<Session>;
  /** A handle on an existing session (no request is made). */
  session(sessionId: string): Session;
  /**
   * Graceful and idempotent (F7): enters `closed` synchronously, flushes commands
   * in flight (bounded by `closeTimeoutMs`), closes transports with code 1000,
   * aborts fetches, clears timers and listeners. Pending calls reject
   * `ClosedError`; unsettled turns resolve with a local `turn.error`
   * (`client_closed`); iterators end.
   */
  close(): Promise<void>;
}

export type { ClientHooks } from './settings.js';

/**
 * Create a client. Connects lazily: only while there is something to stream
 * (a subscription or a live turn).
 *
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:4317', reconnect: { maxDelayMs: 5000 } });
 * const session = await client.createSession();
 */
export function createClient(options: ClientOptions): Client {
  return createClientWith(options, {});
}

/** @internal `createClient` with injectable clock, randomness, transports and ladder. */
export function createClientWith(options: ClientOptions, hooks: ClientHooks): Client {
  return new ClientImpl(options, hooks);
}

/** Longest a received event's cursor waits before it is written to the cursor store. */
const CURSOR_SAVE_INTERVAL_MS = 100;

/** One store key's cursor writes: the newest cursor not yet written (`seq` -1: none), and the write (or wait) under way. */
interface CursorWrite {
  /** The cursor store key. */
  key: string;
  epoch: string;
  seq: number;
  timer: unknown;
  running: Promise<void> | undefined;
}

class ClientImpl implements Client, ClientContext {
  /** The resolved options and internal settings: one object serves the HTTP client and the manager. */
  readonly options: ClientSettings;
  readonly manager: ConnectionManager;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly turns = new Map<string, TurnImpl>();
  readonly terminalGraceMs: number;
  readonly #emitter = new Emitter<ManagerEvents>();
  readonly #commands: CommandTracker;
  #closePromise: Promise<void> | undefined;
  #closed = false;
  /** Cursor writes by session id: one in flight per session, only the newest pending. */
  #cursorWrites = new Map<string, CursorWrite>();

  constructor(options: ClientOptions, hooks: ClientHooks) {
    const o = (this.options = resolveSettings(options, hooks));
    this.clock = o.clock;
    this.terminalGraceMs = o.terminalGraceMs;
    this.http = new HttpClient(o);
    this.#commands = new CommandTracker(o.clock, o.requestTimeoutMs);
    this.manager = new ConnectionManager(o, this.#emitter);
    // When reconnecting keeps failing, live turns stop waiting on the stream alone (F5).
    this.#emitter.on('state', (state) => {
      if (state.status === 'reconnecting' && state.attempt >= 2) for (const turn of this.turns.values()) turn.checkNow();
    });
  }

  get clientId(): string {
    return this.options.clientId;
  }

  get state(): ClientState {
    return this.manager.state;
  }

  get closed(): boolean {
    return this.#closed;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    if (event !== 'state' && event !== 'error') throw new TypeError(`client.on: unknown event ${JSON.stringify(event)}`);
    if (typeof listener !== 'function') throw new TypeError('client.on: `listener` must be a function');
    return this.#emitter.on(event, listener as ManagerEvents[K]);
  }

  command<T>(name: string, { sessionId, frame, http, signal }: CommandOptions<T>): Promise<T> {
    // A prompt's turn will want the stream: on an idle client, connect alongside the request
    // (unless the turn reads its first events over HTTP first: see TurnImpl#bridge).
    const preconnect = name === 'prompt' && this.manager.state.status === 'idle' && !this.options.bridgeFirstEvents;
    if (preconnect) this.manager.preconnect();
    const promise = this.#commands.run(
      name,
      async (opSignal) => {
        const channel = frame && this.manager.commandChannel();
        let resend = false;
        if (channel) {
          try {
            // The transport checked the reply's `result` for the frame's type.
            return (await channel(frame, opSignal)) as T;
          } catch (error) {
            // The socket ended before the reply, or the server is overloaded: resend over HTTP,
            // which retries with backoff (idempotency keys make the resend safe, F9).
            const retryable =
              error instanceof ConnectionError || (error instanceof HttpError && (error.status === 429 || error.status >= 500));
            if (!retryable || opSignal.aborted) throw error;
            resend = true;
          }
        }
        return http(opSignal, resend);
      },
      signal,
    );
    const about = sessionId ?? frame?.sessionId;
    promise.catch((error: unknown) => {
      if (about !== undefined) this.noteFailure(about, error);
      if (preconnect) this.manager.idleIfUnused();
    });
    return promise;
  }

  noteFailure(sessionId: string, error: unknown): void {
    if (finalScope(error) === 'session') this.manager.endSession(sessionId, error as TetherError);
  }

  async createSession(options: CreateSessionOptions = {}): Promise<Session> {
    const reply = await this.command('createSession', {
      http: (signal) =>
        this.http.request('POST', routes.sessions(), {
          // JSON leaves out an undefined `metadata`.
          body: { metadata: options.metadata },
          signal,
          check: replyChecks.createSession,
        }),
      signal: options.signal,
    });
    return new SessionImpl(this, reply.session.id);
  }

  snapshot(sessionId: string, signal?: AbortSignal): Promise<SessionSnapshot> {
    return this.command('snapshot', {
      sessionId,
      http: (opSignal) => this.http.request('GET', routes.session(sessionId), { signal: opSignal, check: replyChecks.snapshot }),
      signal,
    });
  }

  session(sessionId: string): Session {
    if (typeof sessionId !== 'string' || sessionId === '') {
      throw new TypeError('client.session: `sessionId` must be a non-empty string');
    }
    return new SessionImpl(this, sessionId);
  }

  /* Cursor store ---------------------------------------------------- */

  #cursorKey(sessionId: string): string {
    return `${this.options.baseUrl.href}#${sessionId}`;
  }

  async loadCursor(sessionId: string): Promise<StoredCursor | undefined> {
    try {
      return await this.options.cursorStore.get(this.#cursorKey(sessionId));
    } catch (error) {
      this.options.logger.warn?.({ err: error }, 'agent-tether: cursorStore.get failed; starting from the beginning');
      return undefined;
    }
  }

  saveCursor(sessionId: string, epoch: string, seq: number): void {
    // Keyed by session id (no per-event string building: this runs for every event).
    let write = this.#cursorWrites.get(sessionId);
    if (!write) this.#cursorWrites.set(sessionId, (write = { key: this.#cursorKey(sessionId), epoch, seq, timer: undefined, running: undefined }));
    write.epoch = epoch;
    write.seq = seq;
    // Throttled: at most one store write per key per CURSOR_SAVE_INTERVAL_MS, the
    // newest cursor winning; close() flushes. Writing per event cost a third of
    // the client's per-event CPU, and bought nothing: the write always lands
    // after the app got the event, so a crash re-delivers a few events either way.
    if (write.timer === undefined && !write.running) this.#scheduleCursorWrite(sessionId, write);
  }

  reportError(error: TetherError): void {
    this.#emitter.emit('error', error);
  }

  #scheduleCursorWrite(sessionId: string, write: CursorWrite): void {
    write.timer = this.clock.setTimeout(() => void this.#flushCursor(sessionId), CURSOR_SAVE_INTERVAL_MS);
  }

  /**
   * Write a session's newest cursor now. An entry not being written always has
   * a cursor pending. Writes of one key never overlap, so an older cursor never
   * lands last (F10); after close() the pending ones are written at once.
   */
  #flushCursor(sessionId: string): Promise<void> {
    const write = this.#cursorWrites.get(sessionId);
    if (!write) return Promise.resolve();
    if (write.timer !== undefined) this.clock.clearTimeout(write.timer);
    write.timer = undefined;
    return (write.running ??= (async () => {
      do {
        const cursor: StoredCursor = { epoch: write.epoch, seq: write.seq };
        write.seq = -1;
        try {
          await this.options.cursorStore.set(write.key, cursor);
        } catch (error) {
          this.options.logger.warn?.({ err: error }, 'agent-tether: cursorStore.set failed');
        }
      } while (this.#closed && write.seq >= 0);
      write.running = undefined;
      if (write.seq < 0) this.#cursorWrites.delete(sessionId);
      else this.#scheduleCursorWrite(sessionId, write);
    })());
  }

  /* Close ----------------------------------------------------------- */

  close(): Promise<void> {
    return (this.#closePromise ??= this.#close());
  }

  async #close(): Promise<void> {
    // Set first: listeners reacting to the synchronous `closed` state already see a closed client.
    this.#closed = true;
    const { closeTimeoutMs } = this.options;
    // Synchronous part: `closed` is emitted before close() returns; turns settle; iterators end.
    this.#commands.stopAccepting();
    this.manager.close();
    for (const turn of [...this.turns.values()]) turn.closeLocally();
    // Commands in flight get a bounded chance to be delivered (over the still-open transport), then reject.
    await this.#commands.close(closeTimeoutMs);
    this.http.close(new ClosedError());
    await this.manager.shutdown(closeTimeoutMs);
    await waitAtMost(this.clock, Promise.all([...this.#cursorWrites.keys()].map((sessionId) => this.#flushCursor(sessionId))), closeTimeoutMs);
    this.#emitter.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

