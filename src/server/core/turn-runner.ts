/** TurnRunner: runs a session's queued turns through the agent one at a time, and ends them (the single place a turn ends). */
import type { TerminalEvent } from '../../protocol/index.js';
import type { Logger } from '../../logging/logger.js';
import { describeValue } from '../../internal/describe-value.js';
import { agentInput } from './agent-input.js';
import { endInputs } from './input-requests.js';
import { nextLoopTurn } from './schedule.js';
import { redactAgentError } from '../security/redact-agent-error.js';
import { SafeAgentError } from '../security/safe-agent-error.js';
import type { NewEvent } from './session-log.js';
import { appendEvent, saveTurn, type SessionState } from './session-state.js';
import type { TimerSet } from './timer-set.js';
import { statusOf, type TurnState } from './turn-state.js';
import type { Agent, AgentChunk, InputPolicy } from './types.js';

/** What a {@link TurnRunner} needs from the core. */
export interface TurnRunnerOptions {
  agent: Agent;
  logger: Logger;
  timers: TimerSet;
  /** After a cancel, how long the next queued turn waits for the canceled agent to stop. */
  cancelGraceMs: number;
  /** Whether the core is shutting down (no new turn starts). */
  isClosing(): boolean;
  /** Ids of input requests. */
  newId(): string;
  /** Answers input requests without a client; `undefined`: clients only. */
  inputPolicy?: InputPolicy | undefined;
}

// Yield to the event loop this often while draining an agent, so an agent that
// yields synchronously cannot starve sockets, timers and other sessions.
const CHUNKS_PER_LOOP_TURN = 64;

/**
 * Cancel semantics: a turn ends at once (`turn.canceled` is appended when
 * `finish()` returns) and the agent's `signal` aborts. The next queued turn
 * starts as soon as the canceled agent stops — its iterable returns or
 * throws, or it yields again (the yield is dropped and the iterator's
 * `return()` called) — or `cancelGraceMs` after the cancel, whichever comes
 * first. So two agents never overlap on one session unless an agent ignores
 * its signal for longer than `cancelGraceMs`.
 */
export class TurnRunner {
  #o: TurnRunnerOptions;

  constructor(options: TurnRunnerOptions) {
    this.#o = options;
  }

  /** Start the session's next queued turn if its agent slot is free. */
  startNext(session: SessionState): void {
    if (session.active || this.#o.isClosing()) return;
    const turn = session.queue.shift();
    if (!turn) return;
    session.active = turn;
    turn.status = 'running';
    turn.abort = new AbortController();
    turn.startedAt = this.#o.timers.clock.now();
    turn.startedSeq = this.#append(session, { type: 'turn.started', turnId: turn.id }).seq;
    void this.#run(session, turn, turn.abort.signal);
  }

  /**
   * Append the turn's terminal unless it has one, save the turn record, and
   * abort its agent. Returns whether this call ended it (F1: one terminal).
   */
  finish(session: SessionState, turn: TurnState, terminal: NewEvent): boolean {
    if (turn.terminal) return false;
    const event = this.#append(session, { ...terminal, turnId: turn.id }) as TerminalEvent;
    turn.terminal = event;
    turn.status = statusOf(event);
    turn.output = [];
    // A cancel (or any end) settles the requests the agent still waits on.
    endInputs(turn);
    const queued = session.queue.indexOf(turn);
    if (queued >= 0) session.queue.splice(queued, 1);
    saveTurn(session, turn);
    const now = this.#o.timers.clock.now();
    this.#o.logger.info?.(
      { sessionId: session.id, turnId: turn.id, status: turn.status, ms: now - (turn.startedAt ?? turn.createdAt) },
      'agent-tether: turn ended',
    );
    if (session.active === turn && !turn.agentSettled) {
      turn.abort?.abort(new Error(`Turn ended: ${event.type}`));
      if (event.type === 'turn.canceled' && !this.#o.isClosing()) {
        session.graceTimer = this.#o.timers.set(() => this.#release(session, turn), this.#o.cancelGraceMs);
      }
    }
    return true;
  }

  #append(session: SessionState, event: NewEvent) {
    return appendEvent(session, event, this.#o.timers.clock.now());
  }

  async #run(session: SessionState, turn: TurnState, signal: AbortSignal): Promise<void> {
    let iterator: AsyncIterator<AgentChunk> | Iterator<AgentChunk> | undefined;
    let done = false;
    try {
      const iterable = this.#o.agent(
        agentInput(session, turn, signal, {
          now: () => this.#o.timers.clock.now(),
          newId: this.#o.newId,
          logger: this.#o.logger,
          inputPolicy: this.#o.inputPolicy,
        }),
      );
      iterator = getIterator(iterable);
      let sinceLoopTurn = 0;
      for (;;) {
        const result = await iterator.next();
        // Yields after the terminal (cancel, shutdown, store failure) are ignored (F4). Aborted with no
        // terminal, the session moved to another node (lease lost): what the agent returns then is cut
        // short, not an answer, and must not be recorded as `turn.completed`; the new runner ends the turn.
        if (turn.terminal || signal.aborted) break;
        if (result.done) {
          done = true;
          turn.agentSettled = true;
          this.finish(session, turn, { type: 'turn.completed', output: turn.output.join('') });
          break;
        }
        this.#onChunk(session, turn, result.value);
        if (++sinceLoopTurn >= CHUNKS_PER_LOOP_TURN) {
          sinceLoopTurn = 0;
          await nextLoopTurn();
          if (turn.terminal) break;
        }
      }
    } catch (error) {
      done = true;
      turn.agentSettled = true;
      if (!turn.terminal && !signal.aborted) {
        // The agent's own text may hold secrets: clients get a code, a safe message and an error id.
        this.finish(session, turn, { type: 'turn.error', error: redactAgentError(error, this.#o.logger, { sessionId: session.id, turnId: turn.id }) });
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
    // Moved away (see above): the session is no longer run here, so its queue must not start here either.
    if (!turn.terminal && signal.aborted) return;
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
      // The shapes are safe to show; the chunk itself is the agent's and goes to the log only (as the cause).
      throw new SafeAgentError("The agent yielded an invalid chunk; expected { type: 'delta', text: string } or { type: 'item', item: object }", {
        cause: new TypeError(`Invalid chunk: ${describeValue(chunk).slice(0, 200)}`),
      });
    }
  }

  /** Free the session's agent slot held by `turn` and start the next queued turn. */
  #release(session: SessionState, turn: TurnState): void {
    if (session.active !== turn) return;
    session.active = undefined;
    if (session.graceTimer !== undefined) {
      this.#o.timers.cancel(session.graceTimer);
      session.graceTimer = undefined;
    }
    this.startNext(session);
  }
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
