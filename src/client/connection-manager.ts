import { ConnectionError, ProtocolError, type TetherError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import type { ResetInfo, SessionEvent } from '../protocol/index.js';
import type { LadderOptions } from '../transport/ladder.js';
import type {
  CommandFrame,
  Cursor,
  Transport,
  TransportCloseInfo,
  TransportEvents,
  TransportName,
  TransportOptions,
} from '../transport/transport.js';
import { backoffDelay } from './backoff.js';
import { canTransition, type ClientState } from './client-state.js';
import type { Emitter } from './emitter.js';
import type { ResolvedClientOptions } from './options.js';

/** The parts of `TransportLadder` the manager uses (the real one, or a test double). */
export interface Ladder {
  readonly current: TransportName;
  report(name: TransportName, outcome: { opened: boolean }): void;
  shouldProbeUpgrade(): boolean;
  upgraded(name: TransportName): void;
}

/** Creates one transport attempt (`createTransport` of `src/transport`, or a fake in tests). */
export type TransportFactory = (name: TransportName, options: TransportOptions, events: TransportEvents) => Transport;

/** Internal knobs: tests drive time, chance and transports through these. Not public API. */
export interface ConnectionHooks {
  clock: Clock;
  random: () => number;
  createTransport: TransportFactory;
  createLadder: (options: LadderOptions) => Ladder;
  /** An attempt that stays open this long proved itself (so does one that delivers an event). @default 5000 */
  stableAfterMs: number;
  /** How often to ask the ladder whether to probe the top transport again. @default 60_000 */
  upgradeAfterMs: number;
  heartbeatTimeoutMs: number;
  openTimeoutMs: number;
  pollWaitMs: number;
}

/**
 * Someone who wants a session's events: a subscription or a turn. The
 * manager tracks its cursor and hands it each event once, in `seq` order.
 */
export interface Consumer {
  readonly sessionId: string;
  /** The last `seq` this consumer has been given. */
  seq: number;
  /** The epoch `seq` belongs to, when known. */
  epoch: string | undefined;
  onEvent(event: SessionEvent): void;
  /** The history the consumer needed is gone; events continue after `info.after`. */
  onReset(info: ResetInfo): void;
  /** The connection gave up (`reconnect.maxAttempts`), or the client closed. */
  onEnd(error: TetherError): void;
}

/** Stands in for a transport that could not be created. */
function inertTransport(name: TransportName): Transport {
  return { name, subscribe() {}, unsubscribe() {}, close: () => Promise.resolve() };
}

/**
 * Recent events kept per session so a late joiner (a turn whose prompt reply came after its events) needs no
 * replay. `recent` holds up to twice as many (trimmed by halves); a late joiner uses only the newest RECENT_EVENTS.
 */
const RECENT_EVENTS = 256;

interface SessionStream {
  readonly id: string;
  epoch: string | undefined;
  /** Last `seq` received on the active transport's subscription: dedupe and gap detection. */
  seq: number;
  /**
   * The stream was restarted from an older cursor on a live transport: events
   * already in flight from the old position are skipped (not a gap) until the
   * replay reaches `seq + 1`.
   */
  rewinding: boolean;
  /** Contiguous recent events, the last one being the newest received. */
  recent: SessionEvent[];
  readonly consumers: Set<Consumer>;
}

interface Attempt {
  readonly id: number;
  readonly name: TransportName;
  transport: Transport;
  opened: boolean;
  /** Delivered an event or stayed open `stableAfterMs`: the failure counter was reset. */
  proven: boolean;
}

export interface ManagerEvents extends Record<string, (...args: never[]) => void> {
  state: (state: ClientState, prev: ClientState) => void;
  error: (error: TetherError) => void;
}

/**
 * Owns the connection: the state machine, backoff, the transport ladder, one
 * cursor per session and the fan-out of events to consumers. Knows turns only
 * as consumers; knows sockets only through the `Transport` interface.
 */
export class ConnectionManager {
  readonly #o: ResolvedClientOptions;
  readonly #h: ConnectionHooks;
  readonly #emitter: Emitter<ManagerEvents>;
  readonly #ladder: Ladder;
  #state: ClientState = { status: 'idle' };
  #attemptIds = 0;
  #active: Attempt | undefined;
  #probe: Attempt | undefined;
  /** Consecutive attempts that failed or dropped before proving themselves (F8). */
  #failures = 0;
  #retryTimer: unknown;
  #stableTimer: unknown;
  #upgradeTimer: unknown;
  #streams = new Map<string, SessionStream>();
  /** Transport closes in progress, awaited by `close()`. */
  #closing = new Set<Promise<void>>();

  constructor(options: ResolvedClientOptions, hooks: ConnectionHooks, emitter: Emitter<ManagerEvents>) {
    this.#o = options;
    this.#h = hooks;
    this.#emitter = emitter;
    this.#ladder = hooks.createLadder({
      transports: options.transports,
      upgradeAfterMs: hooks.upgradeAfterMs,
      clock: hooks.clock,
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** One place where state changes: checks the transition, emits `(next, prev)`. */
  #setState(next: ClientState): void {
    const prev = this.#state;
    if (
      prev.status === next.status &&
      (prev as { transport?: string }).transport === (next as { transport?: string }).transport &&
      (prev as { attempt?: number }).attempt === (next as { attempt?: number }).attempt
    ) {
      return;
    }
    if (!canTransition(prev.status, next.status)) {
      throw new Error(`agent-tether: invalid state transition ${prev.status} -> ${next.status}`);
    }
    this.#state = next;
    this.#emitter.emit('state', next, prev);
  }

  #reportError(error: TetherError): void {
    this.#o.logger.warn?.({ err: error }, `agent-tether: ${error.message}`);
    this.#emitter.emit('error', error);
  }

  /* ---------------------------------------------------------------- *
   * Consumers
   * ---------------------------------------------------------------- */

  addConsumer(consumer: Consumer): void {
    if (this.#state.status === 'closed') {
      consumer.onEnd(new ConnectionError('The client is closed', { code: 'client_closed' }));
      return;
    }
    let stream = this.#streams.get(consumer.sessionId);
    const isNew = !stream;
    if (!stream) {
      stream = {
        id: consumer.sessionId,
        epoch: consumer.epoch,
        seq: consumer.seq,
        rewinding: false,
        recent: [],
        consumers: new Set(),
      };
      this.#streams.set(stream.id, stream);
    }
    stream.consumers.add(consumer);
    if (isNew) {
      for (const attempt of this.#attempts()) attempt.transport.subscribe(stream.id, this.#cursor(stream));
    } else if (consumer.seq < stream.seq) {
      this.#catchUp(stream, consumer);
    }
    this.#ensureConnected();
  }

  /** A consumer joined behind the stream: serve it from recent events, else rewind the stream (dedupe keeps others exact). */
  #catchUp(stream: SessionStream, consumer: Consumer): void {
    const recent = stream.recent.slice(-RECENT_EVENTS);
    const first = recent[0];
    const sameEpoch = consumer.epoch === undefined || consumer.epoch === stream.epoch;
    if (sameEpoch && first && first.seq <= consumer.seq + 1) {
      for (const event of recent) this.#deliver(consumer, event);
      return;
    }
    stream.seq = consumer.seq;
    stream.rewinding = this.#active?.opened === true;
    for (const attempt of this.#attempts()) attempt.transport.subscribe(stream.id, this.#cursor(stream));
  }

  removeConsumer(consumer: Consumer): void {
    const stream = this.#streams.get(consumer.sessionId);
    if (!stream?.consumers.delete(consumer)) return;
    if (stream.consumers.size > 0) return;
    this.#streams.delete(stream.id);
    for (const attempt of this.#attempts()) attempt.transport.unsubscribe(stream.id);
    if (this.#streams.size === 0 && this.#state.status !== 'closed') this.#goIdle();
  }

  #attempts(): Attempt[] {
    return [this.#active, this.#probe].filter((a): a is Attempt => a !== undefined);
  }

  /** Where a (re)subscription starts: every consumer of a session is served from one stream, from the oldest cursor. */
  #cursor(stream: SessionStream): Cursor {
    let after = stream.seq;
    for (const consumer of stream.consumers) after = Math.min(after, consumer.seq);
    return stream.epoch === undefined ? { after } : { after, epoch: stream.epoch };
  }

  /* ---------------------------------------------------------------- *
   * Connecting
   * ---------------------------------------------------------------- */

  #ensureConnected(): void {
    if (this.#active || this.#retryTimer !== undefined || this.#streams.size === 0) return;
    if (this.#state.status === 'closed') return;
    this.#connect();
  }

  #transportOptions(): TransportOptions {
    return {
      baseUrl: this.#o.baseUrl,
      clientId: this.#o.clientId,
      getHeaders: this.#o.getHeaders,
      fetch: this.#o.fetch,
      WebSocket: this.#o.WebSocket,
      clock: this.#h.clock,
      heartbeatTimeoutMs: this.#h.heartbeatTimeoutMs,
      openTimeoutMs: this.#h.openTimeoutMs,
      pollWaitMs: this.#h.pollWaitMs,
    };
  }

  /** Create an attempt on `name` as the active one or as the upgrade probe. */
  #start(name: TransportName, role: 'active' | 'probe'): Attempt {
    const id = ++this.#attemptIds;
    // Every callback names its attempt; a superseded attempt's late callbacks return early (F4).
    const events: TransportEvents = {
      open: () => this.#onOpen(id),
      events: (sessionId, list) => this.#onEvents(id, sessionId, list),
      reset: (info) => this.#onReset(id, info),
      closed: (info) => this.#onClosed(id, info),
    };
    const attempt: Attempt = { id, name, transport: inertTransport(name), opened: false, proven: false };
    // Registered before the transport exists, so even a synchronous callback is recognised.
    if (role === 'active') this.#active = attempt;
    else this.#probe = attempt;
    try {
      attempt.transport = this.#h.createTransport(name, this.#transportOptions(), events);
    } catch (error) {
      // E.g. a WebSocket constructor that throws: a failed attempt like any other, never a throw into the caller.
      const message = error instanceof Error ? error.message : String(error);
      queueMicrotask(() =>
        events.closed({ opened: false, error: new ConnectionError(`Could not start ${name}: ${message}`, { cause: error }) }),
      );
    }
    return attempt;
  }

  #connect(): void {
    this.#retryTimer = undefined;
    const name = this.#ladder.current;
    this.#setState(
      this.#failures === 0 && this.#state.status !== 'reconnecting'
        ? { status: 'connecting', transport: name }
        : { status: 'reconnecting', transport: name, attempt: Math.max(1, this.#failures) },
    );
    const attempt = this.#start(name, 'active');
    for (const stream of this.#streams.values()) {
      if (this.#active !== attempt) return; // it already ended
      const cursor = this.#cursor(stream);
      stream.seq = cursor.after;
      stream.rewinding = false;
      attempt.transport.subscribe(stream.id, cursor);
    }
  }

  #onOpen(id: number): void {
    if (this.#probe?.id === id) {
      this.#switchToProbe();
      return;
    }
    const attempt = this.#active;
    if (attempt?.id !== id || attempt.opened) return;
    attempt.opened = true;
    this.#setState({ status: 'open', transport: attempt.name });
    this.#stableTimer = this.#h.clock.setTimeout(() => {
      this.#stableTimer = undefined;
      if (this.#active === attempt) this.#prove(attempt);
    }, this.#h.stableAfterMs);
    this.#scheduleUpgradeCheck();
  }

  /** The attempt proved itself: only now does the backoff counter start over (F8). */
  #prove(attempt: Attempt): void {
    if (attempt.proven) return;
    attempt.proven = true;
    this.#failures = 0;
  }

  #onEvents(id: number, sessionId: string, events: SessionEvent[]): void {
    const attempt = this.#active;
    if (attempt?.id !== id || !attempt.opened) return; // stale or not yet open (F4)
    const stream = this.#streams.get(sessionId);
    if (!stream) return;
    // Fast path for the steady state of a live stream: one consumer, known epoch, no rewind.
    // Per event: seq checks, `recent`, one delivery; re-check the world only after a delivery
    // (a consumer may end itself or the attempt when it handles an event, e.g. a terminal).
    if (stream.consumers.size === 1 && stream.epoch !== undefined && !stream.rewinding) {
      const [consumer] = stream.consumers as Iterable<Consumer> as [Consumer];
      const epoch = stream.epoch;
      if (!attempt.proven) this.#prove(attempt);
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const seq = event.seq;
        if (seq <= stream.seq) continue;
        if (seq > stream.seq + 1 || event.epoch !== epoch) {
          this.#onEventsSlow(attempt, stream, sessionId, events.slice(i));
          return;
        }
        stream.seq = seq;
        this.#remember(stream, event);
        this.#deliver(consumer, event);
        if (this.#active !== attempt || stream.consumers.size !== 1 || !stream.consumers.has(consumer)) {
          this.#onEventsSlow(attempt, stream, sessionId, events.slice(i + 1));
          return;
        }
      }
      return;
    }
    this.#onEventsSlow(attempt, stream, sessionId, events);
  }

  #onEventsSlow(attempt: Attempt, stream: SessionStream, sessionId: string, events: SessionEvent[]): void {
    for (const event of events) {
      if (this.#active !== attempt || this.#streams.get(sessionId) !== stream) return;
      if (event.sessionId !== sessionId) {
        this.#drop(attempt, new ProtocolError(`Event for session ${event.sessionId} on the stream of ${sessionId}`));
        return;
      }
      if (stream.epoch !== undefined && event.epoch !== stream.epoch) {
        // A new history without a reset: reconnect with our epoch and let the server send the reset.
        this.#drop(attempt, new ProtocolError(`Epoch changed without a reset on session ${sessionId}`));
        return;
      }
      if (event.seq <= stream.seq) continue; // duplicate (resend, overlap after a switch)
      if (event.seq > stream.seq + 1 && stream.rewinding) continue; // sent before the rewind; replayed later
      if (event.seq > stream.seq + 1) {
        // A gap is a broken stream: resume from the cursor, never skip (exact resume).
        this.#drop(attempt, new ProtocolError(`Gap on session ${sessionId}: seq ${event.seq} after ${stream.seq}`, { code: 'sequence_gap' }));
        return;
      }
      stream.seq = event.seq;
      stream.epoch = event.epoch;
      stream.rewinding = false;
      this.#remember(stream, event);
      this.#prove(attempt);
      // A consumer may remove itself (or others) while handling an event: iterate a copy.
      for (const consumer of [...stream.consumers]) {
        if (stream.consumers.has(consumer)) this.#deliver(consumer, event);
      }
    }
  }

  /** Add `event` to `recent`, unless a rewind re-delivered it (`recent` stays contiguous). */
  #remember(stream: SessionStream, event: SessionEvent): void {
    const recent = stream.recent;
    // Trimmed by halves into a new array: a `shift()` per event moved the whole window, and
    // pushing into an array that lives long (old GC generation) costs a write barrier per event.
    if (event.seq > (recent.at(-1)?.seq ?? 0) && recent.push(event) > 2 * RECENT_EVENTS) {
      stream.recent = recent.slice(-RECENT_EVENTS);
    }
  }

  #deliver(consumer: Consumer, event: SessionEvent): void {
    if (event.seq <= consumer.seq && (consumer.epoch === undefined || consumer.epoch === event.epoch)) return;
    consumer.seq = event.seq;
    consumer.epoch = event.epoch;
    consumer.onEvent(event);
  }

  #onReset(id: number, info: ResetInfo): void {
    const attempt = this.#active;
    if (attempt?.id !== id) return;
    const stream = this.#streams.get(info.sessionId);
    if (!stream) return;
    stream.epoch = info.epoch;
    stream.seq = info.after;
    stream.rewinding = false;
    stream.recent = [];
    for (const consumer of [...stream.consumers]) {
      // Consumers that already hold everything up to `after` in this epoch lost nothing.
      if (consumer.epoch === info.epoch && consumer.seq >= info.after) continue;
      consumer.seq = info.after;
      consumer.epoch = info.epoch;
      consumer.onReset(info);
    }
  }

  #onClosed(id: number, info: TransportCloseInfo): void {
    const probe = this.#probe;
    if (probe?.id === id) {
      this.#probe = undefined;
      this.#ladder.report(probe.name, { opened: info.opened });
      this.#scheduleUpgradeCheck();
      return;
    }
    const attempt = this.#active;
    if (attempt?.id !== id) return;
    if (info.error) this.#reportError(info.error);
    this.#afterDrop(attempt, info.opened, info.retryAfterMs);
  }

  /** Our side ends the attempt (bad frame, gap): report, close it, reconnect. Never throws into the socket callback. */
  #drop(attempt: Attempt, error: TetherError): void {
    this.#reportError(error);
    this.#closeTransport(attempt.transport);
    this.#afterDrop(attempt, attempt.opened, undefined);
  }

  #afterDrop(attempt: Attempt, opened: boolean, retryAfterMs: number | undefined): void {
    this.#active = undefined;
    if (this.#state.status === 'closed') return;
    this.#clearTimer('#stableTimer');
    this.#clearTimer('#upgradeTimer');
    this.#ladder.report(attempt.name, { opened });
    if (this.#probe) {
      // The upgrade probe (not open yet: opening would have switched to it) becomes the attempt in progress.
      this.#active = this.#probe;
      this.#probe = undefined;
    }
    if (this.#streams.size === 0) {
      this.#goIdle();
      return;
    }
    this.#failures += 1;
    if (this.#failures > this.#o.reconnect.maxAttempts) {
      this.#giveUp();
      return;
    }
    if (this.#active) {
      this.#setState({ status: 'reconnecting', transport: this.#active.name, attempt: this.#failures });
      return;
    }
    const delay = Math.max(backoffDelay(this.#failures, this.#o.reconnect, this.#h.random), retryAfterMs ?? 0);
    this.#setState({ status: 'reconnecting', transport: this.#ladder.current, attempt: this.#failures });
    this.#o.logger.debug?.({ attempt: this.#failures, delayMs: delay }, `agent-tether: reconnect attempt ${this.#failures} in ${delay} ms`);
    this.#retryTimer = this.#h.clock.setTimeout(() => this.#connect(), delay);
  }

  /** `reconnect.maxAttempts` failed in a row: end every consumer with a typed error and go idle. */
  #giveUp(): void {
    const error = new ConnectionError(`Gave up after ${this.#failures - 1} failed reconnect attempts`, {
      code: 'reconnect_failed',
    });
    this.#reportError(error);
    const consumers = [...this.#streams.values()].flatMap((s) => [...s.consumers]);
    this.#streams.clear();
    this.#failures = 0;
    this.#setState({ status: 'idle' });
    for (const consumer of consumers) consumer.onEnd(error);
  }

  /* ---------------------------------------------------------------- *
   * Ladder upgrade probe
   * ---------------------------------------------------------------- */

  #scheduleUpgradeCheck(): void {
    this.#clearTimer('#upgradeTimer');
    const active = this.#active;
    if (!active?.opened || this.#probe || active.name === this.#o.transports[0]) return;
    this.#upgradeTimer = this.#h.clock.setTimeout(() => {
      this.#upgradeTimer = undefined;
      if (this.#active !== active || this.#probe) return;
      if (this.#ladder.shouldProbeUpgrade()) this.#startProbe();
      else this.#scheduleUpgradeCheck();
    }, this.#h.upgradeAfterMs);
  }

  /** Open the top transport alongside the current one; switch once it opens (same cursors, dedupe covers overlap). */
  #startProbe(): void {
    const probe = this.#start(this.#o.transports[0]!, 'probe');
    for (const stream of this.#streams.values()) {
      if (this.#probe !== probe) return;
      probe.transport.subscribe(stream.id, this.#cursor(stream));
    }
  }

  #switchToProbe(): void {
    const probe = this.#probe!;
    const old = this.#active;
    this.#probe = undefined;
    probe.opened = true;
    this.#ladder.upgraded(probe.name);
    this.#active = probe;
    this.#clearTimer('#stableTimer');
    if (old) this.#closeTransport(old.transport);
    this.#setState({ status: 'open', transport: probe.name });
    this.#stableTimer = this.#h.clock.setTimeout(() => {
      this.#stableTimer = undefined;
      if (this.#active === probe) this.#prove(probe);
    }, this.#h.stableAfterMs);
  }

  /* ---------------------------------------------------------------- *
   * Commands, idle, close
   * ---------------------------------------------------------------- */

  /** The open transport's command channel, if it has one (WebSocket). */
  commandChannel(): ((frame: CommandFrame, signal?: AbortSignal) => Promise<unknown>) | undefined {
    const attempt = this.#active;
    if (!attempt?.opened || !attempt.transport.command) return undefined;
    const transport = attempt.transport;
    return (frame, signal) => transport.command!(frame, signal);
  }

  #clearTimer(name: '#retryTimer' | '#stableTimer' | '#upgradeTimer'): void {
    const clear = (handle: unknown) => handle !== undefined && this.#h.clock.clearTimeout(handle);
    if (name === '#retryTimer') {
      clear(this.#retryTimer);
      this.#retryTimer = undefined;
    } else if (name === '#stableTimer') {
      clear(this.#stableTimer);
      this.#stableTimer = undefined;
    } else {
      clear(this.#upgradeTimer);
      this.#upgradeTimer = undefined;
    }
  }

  #closeTransport(transport: Transport, timeoutMs?: number): void {
    let promise: Promise<void>;
    try {
      promise = Promise.resolve(transport.close(timeoutMs)).catch(() => {});
    } catch {
      return;
    }
    this.#closing.add(promise);
    void promise.finally(() => this.#closing.delete(promise));
  }

  #stopAll(timeoutMs?: number): void {
    this.#clearTimer('#retryTimer');
    this.#clearTimer('#stableTimer');
    this.#clearTimer('#upgradeTimer');
    for (const attempt of this.#attempts()) this.#closeTransport(attempt.transport, timeoutMs);
    this.#active = undefined;
    this.#probe = undefined;
  }

  #goIdle(): void {
    this.#stopAll();
    this.#failures = 0;
    this.#setState({ status: 'idle' });
  }

  /**
   * Enter `closed` synchronously: consumers end, nothing reconnects. The open
   * transport stays up so the outbox can flush over it; `shutdown()` closes it.
   */
  close(): void {
    if (this.#state.status === 'closed') return;
    this.#clearTimer('#retryTimer');
    this.#clearTimer('#stableTimer');
    this.#clearTimer('#upgradeTimer');
    const consumers = [...this.#streams.values()].flatMap((s) => [...s.consumers]);
    this.#streams.clear();
    this.#setState({ status: 'closed' });
    const error = new ConnectionError('The client is closed', { code: 'client_closed' });
    for (const consumer of consumers) consumer.onEnd(error);
  }

  /** Close every transport (code 1000, fetches aborted, F7) and wait for them, bounded by `timeoutMs` each. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.close();
    this.#stopAll(timeoutMs);
    await Promise.all([...this.#closing]);
  }
}
