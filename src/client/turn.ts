import { ConnectionError, HttpError, TetherError, TimeoutError } from '../errors/index.js';
import { replyChecks } from '../protocol/checks.js';
import { isTerminal, routes } from '../protocol/constants.js';
import type {
  PollReply,
  ResetInfo,
  SessionEvent,
  TerminalEvent,
  TurnErrorEvent,
  TurnEvent,
  TurnInfo,
} from '../protocol/index.js';
import type { Consumer } from './session-feed.js';
import { finalScope, isFinalCode } from '../transport/final-answers.js';
import type { ClientContext } from './context.js';
import { alreadyIterated, EventQueue, overflowError } from './event-queue.js';
import { backoffDelay } from './backoff.js';
import { isRetryable } from './http-client.js';

/** What `turn.cancel()` resolves with. `not_found`: the server does not know the turn (404). */
export type CancelResult = { cancelled: true } | { cancelled: false; reason: 'already_finished' | 'not_found' };

/**
 * One prompt's run. Iterate it for its own events (F4), ending with its
 * terminal; await `result` for the terminal alone.
 *
 * @example
 * const turn = await session.prompt('Summarize the repo');
 * for await (const ev of turn) if (ev.type === 'turn.delta') process.stdout.write(ev.text);
 * const end = await turn.result; // never rejects
 */
export interface Turn extends AsyncIterable<TurnEvent> {
  readonly id: string;
  readonly sessionId: string;
  /**
   * The turn's terminal event. Settles exactly once and never rejects: a
   * cancel by anyone is a normal `turn.canceled` (F1); a client closed first
   * gives a local `turn.error` with `error.code === 'client_closed'`.
   */
  readonly result: Promise<TerminalEvent>;
  /** Ask the server to cancel this turn, and only this turn (F3). Resolves with the server's answer; the turn itself settles from its terminal. */
  cancel(options?: { reason?: string; signal?: AbortSignal }): Promise<CancelResult>;
}

/** Fallback checks after a cancel: how many times to ask `GET turn` before trusting the stream alone. */
const MAX_FALLBACK_CHECKS = 5;
/** Requests of the log a new turn reads over HTTP while the connection opens (see #bridge). */
const BRIDGE_PAGES = 3;
/** How long each of those after the first may wait for new events, in ms. */
const BRIDGE_WAIT_MS = 1000;
/** Pages of the log read over HTTP to bring a turn's iterator up to its fetched terminal. */
const MAX_CATCH_UP_PAGES = 100;

/** @internal The `Turn` implementation; also the turn's consumer of session events. */
export class TurnImpl implements Turn, Consumer {
  readonly id: string;
  readonly sessionId: string;
  readonly result: Promise<TerminalEvent>;
  seq = 0;
  epoch: string | undefined = undefined;
  readonly #ctx: ClientContext;
  readonly #queue: EventQueue<TurnEvent>;
  #resolve!: (terminal: TerminalEvent) => void;
  #settled = false;
  /** The stream part is over: terminal yielded (or substituted), consumer removed. */
  #ended = false;
  #registered = false;
  /** A reset skipped part of this turn's events: the stream may never bring its terminal. */
  #historyLost = false;
  /** `seq` of the turn's `turn.queued`, once known. */
  #queuedSeq: number | undefined;
  /** Length of the delta text yielded so far. */
  #textLength = 0;
  /** Text yielded before a reset skipped part of the turn: later deltas are held back (see #recover). */
  #gapAt: number | undefined;
  #started = false;
  #checking: Promise<void> | undefined;
  #graceTimer: unknown;
  /** The backoff before `session.turn(id)` asks for the turn again (see #attachWhenKnown). */
  #attachTimer: unknown;
  #checks = 0;
  #iterated = false;

  constructor(ctx: ClientContext, sessionId: string, id: string) {
    this.#ctx = ctx;
    this.sessionId = sessionId;
    this.id = id;
    this.result = new Promise((resolve) => (this.#resolve = resolve));
    // A reader this far behind gets a typed error from the iterator; `result` still settles (F6: bounded memory).
    this.#queue = new EventQueue(ctx.options.bufferLimit, undefined, undefined, {
      maxChars: ctx.options.maxMessageBytes,
      onOverflow: () => this.#queue.end(overflowError(sessionId)),
    });
    ctx.turns.set(this.#key, this);
  }

  get #key(): string {
    return `${this.sessionId}/${this.id}`;
  }

  /** Start streaming from the turn's first event (`queuedSeq - 1`), replayed from the log, then live. */
  attach(info: TurnInfo): void {
    if (this.#ended || this.#registered) return;
    // Known terminal (an idempotent replay of a finished turn): settle now, still replay the events.
    if (info.terminal) this.#settle(info.terminal);
    this.#queuedSeq = info.queuedSeq;
    this.seq = info.queuedSeq - 1;
    // No stream open yet: read the first events over HTTP meanwhile (see #bridge). On an
    // idle client the turn connects only after the first read.
    const status = this.#ctx.manager.state.status;
    const bridge = this.#ctx.options.bridgeFirstEvents && !info.terminal && (status === 'idle' || status === 'connecting');
    if (!bridge || status !== 'idle') this.#register();
    if (bridge) void this.#bridge();
  }

  /** Become a consumer of the session's stream (connecting the client if it is idle). */
  #register(): void {
    if (this.#ended || this.#registered || this.#ctx.closed) return;
    this.#registered = true;
    this.#ctx.manager.addConsumer(this);
  }

  /**
   * `session.turn(id)`: learn where the turn starts, then attach. Only the
   * server's answer ends the turn here (a 404, a bad reply): a network failure
   * or an overloaded server (a restart in progress) is asked again with the
   * reconnect backoff, as the stream would be, for the turn runs on
   * regardless — ending it locally would report `turn.error` for a turn the
   * server completes (F5). Gives up after `reconnect.maxAttempts`, as the
   * connection does.
   */
  attachById(): void {
    void this.#attachWhenKnown();
  }

  async #attachWhenKnown(): Promise<void> {
    const { reconnect, random } = this.#ctx.options;
    for (let attempt = 1; ; attempt++) {
      let reply: { turn: TurnInfo };
      try {
        reply = await this.#fetch();
      } catch (error) {
        if (this.#ended || this.#ctx.closed) return;
        if ((isRetryable(error) || error instanceof TimeoutError) && attempt <= reconnect.maxAttempts) {
          await new Promise<void>((resolve) => (this.#attachTimer = this.#ctx.clock.setTimeout(resolve, backoffDelay(attempt, reconnect, random))));
          this.#attachTimer = undefined;
          if (this.#ended || this.#ctx.closed) return;
          continue;
        }
        this.#failLocally(error);
        this.#ctx.noteFailure(this.sessionId, error);
        return;
      }
      this.attach(reply.turn);
      return;
    }
  }

  /** `GET` the turn: where it starts, and its terminal once it has one. */
  #fetch(): Promise<{ turn: TurnInfo }> {
    return this.#ctx.http.request('GET', routes.turn(this.sessionId, this.id), { check: replyChecks.turn });
  }

  /**
   * A turn is read once: its events are not kept after they are handed out
   * (F6), so a second iteration throws instead of silently yielding nothing
   * (as openai-node's streams do). `result` can be awaited any number of times.
   */
  [Symbol.asyncIterator](): AsyncIterator<TurnEvent> {
    if (this.#iterated) throw alreadyIterated(`turn ${this.id}`);
    this.#iterated = true;
    return this.#queue;
  }

  /* Consumer ------------------------------------------------------- */

  onEvent(event: SessionEvent): void {
    if (this.#ended) return;
    if (event.turnId !== this.id) {
      // Turns of a session run one at a time: another turn starting after ours
      // started means ours ended, yet its terminal did not reach us (F5).
      if (event.type === 'turn.started' && this.#started) this.#check();
      return;
    }
    const own = event as TurnEvent;
    if (own.type === 'turn.started') this.#started = true;
    if (isTerminal(own)) {
      this.#finish(own);
      return;
    }
    if (own.type === 'turn.delta') {
      // After a gap, deltas no longer continue the text yielded so far: hold them back.
      if (this.#gapAt !== undefined) return;
      this.#textLength += own.text.length;
    }
    this.#queue.push(own);
  }

  onReset(info: ResetInfo): void {
    // In the same history the skipped events end at `info.after`: a turn queued
    // after that lost nothing. A new epoch renumbers everything: no comparison.
    if (info.reason === 'history_gone' && this.#queuedSeq !== undefined && this.#queuedSeq > info.after) return;
    // Part of our history is gone, possibly the terminal: ask the server (F5).
    this.#historyLost = true;
    if (this.#gapAt === undefined) {
      this.#gapAt = this.#textLength;
      this.#ctx.reportError(
        new TetherError('history_gone', `Turn ${this.id}: the server no longer holds part of its events (${info.reason}); the text is recovered from turn.completed.output, if the turn completes`),
      );
    }
    this.#check();
  }

  onEnd(error: TetherError): void {
    this.#registered = false;
    if (error.code === 'client_closed') {
      this.closeLocally();
      return;
    }
    if (finalScope(error)) {
      // The server said the session is gone: nothing to fetch, nothing to retry.
      this.#finish(this.#localError(error.code, error.message));
      return;
    }
    // Reconnecting gave up: the stream cannot deliver the terminal; fetch it instead (F5).
    void this.#check().then(() => {
      if (!this.#ended) this.#finish(this.#localError(error.code, error.message));
    });
  }

  /**
   * A reset skipped part of this turn (the reader fell further behind than the
   * server's history). `turn.completed.output` holds the whole text, so one
   * recovered delta — the output after what was already yielded — keeps the
   * yielded deltas adding up to the output exactly. Canceled and failed turns
   * carry no output: their text stays cut, as `client.on('error')` reported.
   */
  #recover(terminal: TerminalEvent): void {
    const gapAt = this.#gapAt;
    if (gapAt === undefined || terminal.type !== 'turn.completed' || terminal.output.length <= gapAt) return;
    this.#gapAt = undefined;
    const text = terminal.output.slice(gapAt);
    this.#textLength += text.length;
    this.#queue.push({
      type: 'turn.delta',
      sessionId: this.sessionId,
      turnId: this.id,
      // A local event has no seq of its own: it carries the terminal's.
      seq: terminal.seq,
      epoch: terminal.epoch,
      time: terminal.time,
      text,
    } as TurnEvent);
  }

  /* Settling -------------------------------------------------------- */

  #settle(terminal: TerminalEvent): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(terminal);
  }

  /** End the stream part with `terminal` (from the stream, or a substitute), and settle. Anything later is dropped (F4). */
  #finish(terminal: TerminalEvent): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settle(terminal);
    this.#recover(terminal);
    this.#queue.push(terminal as TurnEvent);
    this.#queue.end();
    if (this.#graceTimer !== undefined) this.#ctx.clock.clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    // A wait before asking for the turn again: nothing to ask for now (the turn ended, or the client closed).
    if (this.#attachTimer !== undefined) this.#ctx.clock.clearTimeout(this.#attachTimer);
    this.#attachTimer = undefined;
    if (this.#registered) {
      this.#registered = false;
      this.#ctx.manager.removeConsumer(this);
    }
    if (this.#ctx.turns.get(this.#key) === this) this.#ctx.turns.delete(this.#key);
  }

  #localError(code: string, message: string): TurnErrorEvent {
    return {
      type: 'turn.error',
      sessionId: this.sessionId,
      turnId: this.id,
      // A local event has no server seq: it carries the last one this turn saw.
      seq: this.seq,
      epoch: this.epoch ?? '',
      time: this.#ctx.clock.now(),
      error: { code, message, retryable: code !== 'not_found' && !isFinalCode(code) },
    } as TurnErrorEvent;
  }

  #failLocally(error: unknown): void {
    const e = error as { code?: unknown; message?: unknown };
    this.#finish(
      this.#localError(
        typeof e?.code === 'string' ? e.code : 'connection_failed',
        typeof e?.message === 'string' ? e.message : String(error),
      ),
    );
  }

  /** The client closed before the terminal arrived (F7). */
  closeLocally(): void {
    this.#finish(this.#localError('client_closed', 'The client was closed before the turn ended'));
  }

  /** Fetch the turn and settle from its `terminal` when it has one (F5). One request at a time. */
  #check(): Promise<void> {
    if (this.#ended || this.#ctx.closed) return Promise.resolve();
    this.#checking ??= this.#fetch()
      .then(
        (reply) => {
          const terminal = reply.turn.terminal;
          if (!terminal) return;
          // `result` settles now (F5). The iterator ends here only when the stream
          // cannot bring the rest: it gave up, history was reset away, or it is
          // already past the terminal. Otherwise the stream is still on its way
          // and ending now would skip the events between here and the terminal.
          this.#settle(terminal);
          return this.#readLogTo(terminal);
        },
        (error: unknown) => {
          if (error instanceof HttpError && error.status === 404) {
            this.#failLocally(error);
            this.#ctx.noteFailure(this.sessionId, error);
          }
          // Otherwise the server is unreachable too; a later trigger checks again.
        },
      )
      .finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /**
   * `result` has settled from a fetched terminal; bring the iterator up to it
   * by reading the turn's missing events from the log over HTTP (the long-poll
   * endpoint, `wait=0`), so a stream that cannot deliver — a blocked transport,
   * a restart — costs latency, never events. Events the stream delivers
   * meanwhile are deduped by `seq` (F4). The iterator ends with the fetched
   * terminal only when the log cannot give the rest (history reset away,
   * server unreachable while the stream gave up).
   */
  async #readLogTo(terminal: TerminalEvent): Promise<void> {
    let unreadable = false;
    for (let page = 0; !this.#ended && page < MAX_CATCH_UP_PAGES; page++) {
      const reply = await this.#readLogPage(0);
      if (reply instanceof Error) {
        // The server answered but will not serve its log over HTTP: nothing to wait for.
        // A network failure, though, leaves it to the stream and the next check.
        unreadable = reply instanceof TetherError && !(reply instanceof ConnectionError) && !(reply instanceof TimeoutError);
        break;
      }
      if (this.#ended) return;
      if (reply.reset) this.#historyLost = true;
      if (reply.reset || reply.events.length === 0 || this.seq >= terminal.seq) break;
    }
    if (this.#ended) return;
    // The log could not bring the terminal: end with the fetched one unless the stream still can.
    if (!this.#registered || this.#historyLost || unreadable || terminal.seq <= this.seq) this.#finish(terminal);
  }

  /**
   * One page of the session's log after this turn's cursor, over HTTP (the
   * long-poll endpoint, waiting up to `waitMs` for something new); this
   * turn's events in it are handed on, deduped by `seq` against the stream
   * (F4). Resolves with the reply, or with the error (never rejects).
   */
  async #readLogPage(waitMs: number): Promise<PollReply | Error> {
    let reply: PollReply;
    try {
      reply = await this.#ctx.http.request<PollReply>('GET', routes.poll(this.sessionId), {
        query: { after: this.seq, epoch: this.epoch, wait: waitMs },
        check: replyChecks.poll,
      });
    } catch (error) {
      this.#ctx.noteFailure(this.sessionId, error);
      return error instanceof Error ? error : new Error(String(error));
    }
    for (const event of reply.events) {
      if (this.#ended) break;
      if (event.seq <= this.seq) continue;
      this.seq = event.seq;
      this.epoch = event.epoch;
      if (event.turnId === this.id) this.onEvent(event);
    }
    return reply;
  }

  /**
   * No stream is open when the prompt is accepted: read the turn's first
   * events from the log over HTTP, as a raw client would. On an idle client
   * the turn connects only after that first read: opening the WebSocket
   * alongside the prompt cost the first delta ~40 % (the handshake competed
   * with the prompt and the read in both processes), and a turn that ends
   * within its first page never needs a stream. Then at most
   * BRIDGE_PAGES - 1 long-polls bridge the gap while the stream opens,
   * stopped once it is open, the turn ends or the log has a reset (the stream
   * handles that). The stream subscribes from the cursor the reads left, and
   * whichever brings an event first delivers it; the other is deduped by
   * `seq` (F4). A final answer (`session_not_found`) ends the turn here as
   * it would on the stream.
   */
  async #bridge(): Promise<void> {
    const first = await this.#readLogPage(0);
    if (first instanceof Error && finalScope(first)) {
      if (!this.#ended) this.onEnd(first as TetherError);
      return;
    }
    this.#register();
    if (first instanceof Error || first.reset) return;
    for (let page = 1; page < BRIDGE_PAGES; page++) {
      if (this.#ended || this.#ctx.closed || this.#ctx.manager.state.status === 'open') return;
      const reply = await this.#readLogPage(BRIDGE_WAIT_MS);
      if (reply instanceof Error || reply.reset) return;
    }
  }

  /** Called by the client when reconnecting keeps failing: do not wait on the stream alone (F5). */
  checkNow(): void {
    void this.#check();
  }

  /** After a cancel, give the stream a moment to bring the terminal; then ask the server (F5). */
  #scheduleFallback(): void {
    if (this.#ended || this.#graceTimer !== undefined || this.#checks >= MAX_FALLBACK_CHECKS) return;
    const delay = this.#ctx.terminalGraceMs * 2 ** this.#checks;
    this.#graceTimer = this.#ctx.clock.setTimeout(() => {
      this.#graceTimer = undefined;
      this.#checks += 1;
      void this.#check().then(() => this.#scheduleFallback());
    }, delay);
  }

  /* Cancel ---------------------------------------------------------- */

  async cancel(options: { reason?: string; signal?: AbortSignal } = {}): Promise<CancelResult> {
    const { sessionId, id: turnId } = this;
    const reason = options.reason === undefined ? {} : { reason: options.reason };
    let result: CancelResult;
    /** Whether the cancel may have reached the server before the attempt that answered. */
    let resent = false;
    try {
      result = await this.#ctx.command<CancelResult>('cancel', {
        frame: { type: 'cancel', sessionId, turnId, ...reason },
        http: (signal, resend) => {
          resent ||= resend;
          return this.#ctx.http.request('POST', routes.cancel(sessionId, turnId), {
            body: { clientId: this.#ctx.options.clientId, ...reason },
            signal,
            check: replyChecks.cancel,
            onRetry: () => (resent = true),
          });
        },
        signal: options.signal,
      });
    } catch (error) {
      // 404 means the server does not know this turn: an answer, not a failure.
      if (error instanceof HttpError && error.status === 404) {
        this.#failLocally(error);
        return { cancelled: false, reason: 'not_found' };
      }
      throw error;
    }
    if (!result.cancelled && resent) result = await this.#ownCancel(result);
    // Local state settles from the terminal, never from the cancel reply (F5); only this turn is touched (F3).
    this.#scheduleFallback();
    return result;
  }

  /**
   * A resent cancel answered `already_finished`: if the turn ended canceled by
   * this client, it was our first (unanswered) attempt that canceled it (F9).
   */
  async #ownCancel(reply: CancelResult): Promise<CancelResult> {
    try {
      const terminal = (await this.#fetch()).turn.terminal;
      if (terminal?.type === 'turn.canceled' && terminal.canceledBy === this.#ctx.options.clientId) return { cancelled: true };
    } catch {
      // Could not tell: the server's answer stands.
    }
    return reply;
  }
}
