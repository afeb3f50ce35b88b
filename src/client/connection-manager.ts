/** The client's connection: state machine, backoff, transport attempts and the ladder's upgrade probe. */
import { ConnectionError, type TetherError } from '../errors/index.js';
import type { ResetInfo, SessionEvent } from '../protocol/index.js';
import type {
  CommandFrame,
  Transport,
  TransportCloseInfo,
  TransportEvents,
  TransportName,
  TransportOptions,
} from '../transport/transport.js';
import { authorizationOf } from '../transport/bearer.js';
import { finalScope } from '../transport/final-answers.js';
import { backoffDelay } from './backoff.js';

import { canTransition, sameState, type ClientState } from './client-state.js';
import type { Emitter } from './emitter.js';
import { SessionFeed, type Consumer } from './session-feed.js';
import { NamedTimers } from './named-timers.js';
import type { ClientSettings, Ladder } from './settings.js';

export type { Consumer } from './session-feed.js';

/** Stands in for a transport that could not be created. */
function inertTransport(name: TransportName): Transport {
  return { name, subscribe() {}, unsubscribe() {}, close: () => Promise.resolve() };
}


interface Attempt {
  readonly id: number;
  readonly name: TransportName;
  transport: Transport;
  opened: boolean;
  /** Delivered an event or stayed open `stableAfterMs`: the failure counter was reset. */
  proven: boolean;
  /** The `Authorization` this attempt connected with (compared with a fresh one after a 401). */
  authorization?: string | undefined;
}

export interface ManagerEvents extends Record<string, (...args: never[]) => void> {
  state: (state: ClientState, prev: ClientState) => void;
  error: (error: TetherError) => void;
}


/**
 * Owns the connection: the state machine, backoff, the transport ladder and
 * one `SessionFeed` per session. Knows turns only as consumers; knows sockets
 * only through the `Transport` interface.
 */
export class ConnectionManager {
  readonly #settings: ClientSettings;
  readonly #emitter: Emitter<ManagerEvents>;
  readonly #ladder: Ladder;
  #state: ClientState = { status: 'idle' };
  #attemptIds = 0;
  #active: Attempt | undefined;
  #probe: Attempt | undefined;
  /** Consecutive attempts that failed or dropped before proving themselves (F8). */
  #failures = 0;
  /** retry: the backoff wait; stable: proving an open attempt; upgrade: the next probe check. */
  readonly #timers: NamedTimers<'retry' | 'stable' | 'upgrade'>;
  readonly #feeds = new Map<string, SessionFeed>();
  /** Transport closes in progress, awaited by `close()`. */
  readonly #closing = new Set<Promise<void>>();
  /** A 401 was already answered by reconnecting with a fresh token; the next one ends the client's streams. Cleared once an attempt opens. */
  #retriedAuth = false;

  constructor(settings: ClientSettings, emitter: Emitter<ManagerEvents>) {
    this.#settings = settings;
    this.#emitter = emitter;
    this.#timers = new NamedTimers(settings.clock);
    this.#ladder = settings.createLadder({
      transports: settings.transports,
      upgradeAfterMs: settings.upgradeAfterMs,
      clock: settings.clock,
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** One place where state changes: checks the transition, logs it, emits `(next, prev)`. */
  #setState(next: ClientState, reason: string): void {
    const prev = this.#state;
    if (sameState(prev, next)) return;
    if (!canTransition(prev.status, next.status)) {
      throw new Error(`agent-tether: invalid state transition ${prev.status} -> ${next.status}`);
    }
    this.#state = next;
    this.#settings.logger.info?.({ state: next, prev, reason }, `agent-tether: ${prev.status} -> ${next.status} (${reason})`);
    this.#emitter.emit('state', next, prev);
  }

  #reportError(error: TetherError): void {
    this.#settings.logger.warn?.({ err: error }, `agent-tether: ${error.message}`);
    this.#emitter.emit('error', error);
  }

  /** A callback of an attempt that is no longer current (F4): dropped, and said why (centrifuge-js). */
  #stale(id: number, what: string, reason: string): void {
    this.#settings.logger.debug?.({ attempt: id, reason }, `agent-tether: ignored ${what} of attempt ${id} (${reason})`);
  }

  /* ---------------------------------------------------------------- *
   * Consumers
   * ---------------------------------------------------------------- */

  addConsumer(consumer: Consumer): void {
    if (this.#state.status === 'closed') {
      consumer.onEnd(new ConnectionError('The client is closed', { code: 'client_closed' }));
      return;
    }
    const feed = this.#feeds.get(consumer.sessionId);
    if (!feed) {
      const created = new SessionFeed(consumer);
      this.#feeds.set(created.id, created);
      this.#subscribeAll(created);
    } else {
      feed.consumers.add(consumer);
      if (consumer.seq < feed.seq && !feed.serveLateJoiner(consumer, this.#active?.opened === true)) this.#subscribeAll(feed);
    }
    this.#ensureConnected();
  }

  removeConsumer(consumer: Consumer): void {
    const feed = this.#feeds.get(consumer.sessionId);
    if (!feed?.consumers.delete(consumer)) return;
    if (feed.consumers.size > 0) return;
    this.#feeds.delete(feed.id);
    for (const attempt of this.#attempts()) attempt.transport.unsubscribe(feed.id);
    if (this.#feeds.size === 0 && this.#state.status !== 'closed') this.#goIdle('nothing left to stream');
  }

  /**
   * The server gave a final answer about `sessionId` (`session_not_found`):
   * its consumers end with `error` (typed, not retryable) and its stream
   * stops. The connection and every other session are not touched: no
   * reconnect, no state change (unless nothing is left to stream).
   */
  endSession(sessionId: string, error: TetherError): void {
    const feed = this.#feeds.get(sessionId);
    if (!feed) return;
    this.#settings.logger.info?.({ sessionId, code: error.code }, `agent-tether: session ${sessionId} ended by the server (${error.code})`);
    this.#feeds.delete(sessionId);
    for (const attempt of this.#attempts()) attempt.transport.unsubscribe(sessionId);
    for (const consumer of [...feed.consumers]) consumer.onEnd(error);
    if (this.#feeds.size === 0 && this.#state.status !== 'closed') this.#goIdle('nothing left to stream');
  }

  /** (Re)subscribe `feed` on every attempt, from its oldest consumer's cursor. */
  #subscribeAll(feed: SessionFeed): void {
    for (const attempt of this.#attempts()) attempt.transport.subscribe(feed.id, feed.cursor());
  }

  #attempts(): Attempt[] {
    return [this.#active, this.#probe].filter((a): a is Attempt => a !== undefined);
  }

  /* ---------------------------------------------------------------- *
   * Connecting
   * ---------------------------------------------------------------- */

  /**
   * A stream is about to be needed (a prompt on an idle client): start
   * connecting now, alongside the request, instead of after its reply. Only
   * the connection is early: the turn still subscribes from its own
   * `queuedSeq` once the reply names it, so F4 and F9 hold as before.
   */
  preconnect(): void {
    if (this.#state.status !== 'idle' || this.#active || this.#timers.has('retry')) return;
    this.#connect('a prompt is on its way');
  }

  /** Undo a `preconnect()` that nothing came to use (the prompt failed). */
  idleIfUnused(): void {
    if (this.#feeds.size === 0 && this.#state.status !== 'idle' && this.#state.status !== 'closed') this.#goIdle('nothing left to stream');
  }

  #ensureConnected(): void {
    if (this.#active || this.#timers.has('retry') || this.#feeds.size === 0) return;
    if (this.#state.status === 'closed') return;
    this.#connect('something to stream');
  }

  #transportOptions(attempt: Attempt): TransportOptions {
    const s = this.#settings;
    return {
      baseUrl: s.baseUrl,
      clientId: s.clientId,
      // Noted per attempt: after a 401, only a different token is worth one more try.
      getHeaders: async () => {
        const headers = await s.getHeaders();
        attempt.authorization = authorizationOf(headers);
        return headers;
      },
      bearer: s.bearer,
      fetch: s.fetch,
      WebSocket: s.WebSocket,
      clock: s.clock,
      heartbeatTimeoutMs: s.heartbeatTimeoutMs,
      openTimeoutMs: s.openTimeoutMs,
      pollWaitMs: s.pollWaitMs,
      maxMessageBytes: s.maxMessageBytes,
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
      sessionEnded: (sessionId, error) => {
        if (this.#active?.id === id || this.#probe?.id === id) this.endSession(sessionId, error);
        else this.#stale(id, 'session end', 'superseded');
      },
      closed: (info) => this.#onClosed(id, info),
    };
    const attempt: Attempt = { id, name, transport: inertTransport(name), opened: false, proven: false };
    // Registered before the transport exists, so even a synchronous callback is recognised.
    if (role === 'active') this.#active = attempt;
    else this.#probe = attempt;
    this.#settings.logger.debug?.({ attempt: id, transport: name, role }, `agent-tether: attempt ${id} on ${name} (${role})`);
    try {
      attempt.transport = this.#settings.createTransport(name, this.#transportOptions(attempt), events);
    } catch (error) {
      // E.g. a WebSocket constructor that throws: a failed attempt like any other, never a throw into the caller.
      const message = error instanceof Error ? error.message : String(error);
      queueMicrotask(() =>
        events.closed({ opened: false, error: new ConnectionError(`Could not start ${name}: ${message}`, { cause: error }) }),
      );
    }
    return attempt;
  }

  #connect(why: string): void {
    this.#timers.forget('retry');
    const name = this.#ladder.current;
    if (this.#failures === 0 && this.#state.status !== 'reconnecting') {
      this.#setState({ status: 'connecting', transport: name }, why);
    } else {
      this.#setState({ status: 'reconnecting', transport: name, attempt: Math.max(1, this.#failures) }, 'backoff elapsed');
    }
    const attempt = this.#start(name, 'active');
    for (const feed of this.#feeds.values()) {
      if (this.#active !== attempt) return; // it already ended
      const cursor = feed.cursor();
      feed.restartAt(cursor);
      attempt.transport.subscribe(feed.id, cursor);
    }
  }

  #onOpen(id: number): void {
    if (this.#probe?.id === id) {
      this.#switchToProbe();
      return;
    }
    const attempt = this.#active;
    if (attempt?.id !== id) return this.#stale(id, 'open', 'superseded');
    if (attempt.opened) return this.#stale(id, 'open', 'already open');
    attempt.opened = true;
    this.#retriedAuth = false;
    this.#setState({ status: 'open', transport: attempt.name }, `${attempt.name} opened`);
    this.#startStableTimer(attempt);
    this.#scheduleUpgradeCheck();
  }

  /** An attempt that stays open `stableAfterMs` proved itself. */
  #startStableTimer(attempt: Attempt): void {
    this.#timers.set('stable', this.#settings.stableAfterMs, () => {
      if (this.#active === attempt) this.#prove(attempt, `open for ${this.#settings.stableAfterMs} ms`);
    });
  }

  /** The attempt proved itself: only now does the backoff counter start over (F8). */
  #prove(attempt: Attempt, reason: string): void {
    if (attempt.proven) return;
    attempt.proven = true;
    if (this.#failures > 0) {
      this.#settings.logger.debug?.({ attempt: attempt.id, reason }, `agent-tether: failure count reset (${reason})`);
    }
    this.#failures = 0;
  }

  #onEvents(id: number, sessionId: string, events: SessionEvent[]): void {
    const attempt = this.#active;
    if (attempt?.id !== id) return this.#stale(id, 'events', 'superseded');
    if (!attempt.opened) return this.#stale(id, 'events', 'not open yet');
    const feed = this.#feeds.get(sessionId);
    if (!feed) return; // unsubscribed: events in flight from before (F4)
    const error = feed.push(
      events,
      () => this.#active === attempt && this.#feeds.get(sessionId) === feed,
      () => {
        if (!attempt.proven) this.#prove(attempt, 'delivered an event');
      },
    );
    if (error) this.#drop(attempt, error);
  }

  #onReset(id: number, info: ResetInfo): void {
    if (this.#active?.id !== id) return this.#stale(id, 'reset', 'superseded');
    this.#settings.logger.info?.({ sessionId: info.sessionId, reason: info.reason }, `agent-tether: session ${info.sessionId} reset (${info.reason})`);
    this.#feeds.get(info.sessionId)?.reset(info);
  }

  #onClosed(id: number, info: TransportCloseInfo): void {
    const probe = this.#probe;
    if (probe?.id === id) {
      this.#probe = undefined;
      this.#settings.logger.debug?.({ attempt: id, err: info.error }, `agent-tether: upgrade probe on ${probe.name} failed`);
      this.#ladder.report(probe.name, { opened: info.opened });
      this.#scheduleUpgradeCheck();
      return;
    }
    const attempt = this.#active;
    if (attempt?.id !== id) return this.#stale(id, 'close', 'superseded');
    if (info.error && finalScope(info.error) !== undefined) return this.#refused(attempt, info.error);
    if (info.error) this.#reportError(info.error);
    this.#afterDrop(attempt, info.opened, info.retryAfterMs, info.error?.message ?? 'closed', info.retryHintMs);
  }

  /** Our side ends the attempt (bad frame, gap): report, close it, reconnect. Never throws into the socket callback. */
  #drop(attempt: Attempt, error: TetherError): void {
    this.#reportError(error);
    this.#closeTransport(attempt.transport);
    this.#afterDrop(attempt, attempt.opened, undefined, error.message);
  }

  #afterDrop(attempt: Attempt, opened: boolean, retryAfterMs: number | undefined, reason: string, retryHintMs?: number): void {
    this.#active = undefined;
    if (this.#state.status === 'closed') return;
    this.#timers.clear();
    this.#ladder.report(attempt.name, { opened });
    if (this.#probe) {
      // The upgrade probe (not open yet: opening would have switched to it) becomes the attempt in progress.
      this.#active = this.#probe;
      this.#probe = undefined;
    }
    if (this.#feeds.size === 0) {
      this.#goIdle('nothing left to stream');
      return;
    }
    this.#failures += 1;
    if (this.#failures > this.#settings.reconnect.maxAttempts) {
      this.#giveUp();
      return;
    }
    if (this.#active) {
      this.#setState({ status: 'reconnecting', transport: this.#active.name, attempt: this.#failures }, `${reason}; the upgrade probe carries on`);
      return;
    }
    const next = this.#ladder.current;
    if (next !== attempt.name) {
      this.#settings.logger.info?.({ from: attempt.name, to: next }, `agent-tether: falling back from ${attempt.name} to ${next}`);
    }
    // The client's own backoff (full jitter) governs every transport (F8). Only an explicit
    // ask (`Retry-After` on a 429/503) may raise the delay, and never past `maxDelayMs`;
    // an SSE `retry:` field is a hint every stream carries, not an ask (docs/client.md).
    const { reconnect, random } = this.#settings;
    const backoff = backoffDelay(this.#failures, reconnect, random);
    const delay = Math.max(backoff, Math.min(retryAfterMs ?? 0, reconnect.maxDelayMs));
    this.#setState({ status: 'reconnecting', transport: next, attempt: this.#failures }, reason);
    this.#settings.logger.debug?.(
      { attempt: this.#failures, delayMs: delay, backoffMs: backoff, retryAfterMs, retryHintMs, reason },
      `agent-tether: reconnect attempt ${this.#failures} in ${delay} ms`,
    );
    this.#timers.set('retry', delay, () => this.#connect('backoff elapsed'));
  }

  /**
   * The server refused the connection itself (a 401 or 403 on the upgrade or
   * on a stream request, DESIGN §5). Retrying with the same credentials
   * cannot help, so: after a 401, one new attempt at once if the token
   * function now returns a different token (it was refreshed); otherwise
   * every subscription and turn of the client ends with the typed error and
   * the client goes idle. No backoff loop: the next connect happens only
   * when something new asks to stream.
   */
  #refused(attempt: Attempt, error: TetherError): void {
    this.#active = undefined;
    this.#stopAll();
    this.#ladder.report(attempt.name, { opened: attempt.opened });
    this.#settings.logger.info?.({ attempt: attempt.id, code: error.code }, `agent-tether: ${attempt.name} refused by the server (${error.code})`);
    const used = attempt.authorization;
    const retry = error.code === 'unauthorized' && !this.#retriedAuth;
    if (!retry) return this.#endAll(error);
    void this.#settings.getHeaders().then(
      (headers) => {
        if (this.#active || this.#state.status === 'closed' || this.#feeds.size === 0) return;
        if (authorizationOf(headers) === used) return this.#endAll(error);
        this.#retriedAuth = true;
        this.#settings.logger.info?.({}, 'agent-tether: the token changed; connecting once more with it');
        this.#connect('a fresh token after 401');
      },
      () => this.#endAll(error),
    );
  }

  /** End every consumer with a final answer about the client's credentials and go idle. */
  #endAll(error: TetherError): void {
    if (this.#state.status === 'closed') return;
    this.#reportError(error);
    const consumers = this.#takeConsumers();
    this.#failures = 0;
    this.#retriedAuth = false;
    this.#setState({ status: 'idle' }, `refused by the server (${error.code})`);
    for (const consumer of consumers) consumer.onEnd(error);
  }

  /** `reconnect.maxAttempts` failed in a row: end every consumer with a typed error and go idle. */
  #giveUp(): void {
    const error = new ConnectionError(`Gave up after ${this.#failures - 1} failed reconnect attempts`, {
      code: 'reconnect_failed',
    });
    this.#reportError(error);
    const consumers = this.#takeConsumers();
    this.#failures = 0;
    this.#setState({ status: 'idle' }, 'gave up reconnecting');
    for (const consumer of consumers) consumer.onEnd(error);
  }

  /** Every consumer of every feed; the feeds are forgotten. */
  #takeConsumers(): Consumer[] {
    const consumers = [...this.#feeds.values()].flatMap((feed) => [...feed.consumers]);
    this.#feeds.clear();
    return consumers;
  }

  /* ---------------------------------------------------------------- *
   * Ladder upgrade probe
   * ---------------------------------------------------------------- */

  #scheduleUpgradeCheck(): void {
    this.#timers.clear('upgrade');
    const active = this.#active;
    if (!active?.opened || this.#probe || active.name === this.#settings.transports[0]) return;
    this.#timers.set('upgrade', this.#settings.upgradeAfterMs, () => {
      if (this.#active !== active || this.#probe) return;
      if (this.#ladder.shouldProbeUpgrade()) this.#startProbe();
      else this.#scheduleUpgradeCheck();
    });
  }

  /** Open the top transport alongside the current one; switch once it opens (same cursors, dedupe covers overlap). */
  #startProbe(): void {
    const top = this.#settings.transports[0]!;
    this.#settings.logger.info?.({ from: this.#active?.name, to: top }, `agent-tether: probing ${top} to upgrade`);
    const probe = this.#start(top, 'probe');
    for (const feed of this.#feeds.values()) {
      if (this.#probe !== probe) return;
      probe.transport.subscribe(feed.id, feed.cursor());
    }
  }

  #switchToProbe(): void {
    const probe = this.#probe!;
    const old = this.#active;
    this.#probe = undefined;
    probe.opened = true;
    this.#ladder.upgraded(probe.name);
    this.#active = probe;
    this.#timers.clear('stable');
    if (old) this.#closeTransport(old.transport);
    this.#setState({ status: 'open', transport: probe.name }, `upgraded to ${probe.name}`);
    this.#startStableTimer(probe);
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
    this.#timers.clear();
    for (const attempt of this.#attempts()) this.#closeTransport(attempt.transport, timeoutMs);
    this.#active = undefined;
    this.#probe = undefined;
  }

  #goIdle(reason: string): void {
    this.#stopAll();
    this.#failures = 0;
    this.#setState({ status: 'idle' }, reason);
  }

  /**
   * Enter `closed` synchronously: consumers end, nothing reconnects. The open
   * transport stays up so the command tracker can flush over it; `shutdown()` closes it.
   */
  close(): void {
    if (this.#state.status === 'closed') return;
    this.#timers.clear();
    const consumers = this.#takeConsumers();
    this.#setState({ status: 'closed' }, 'close() called');
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
