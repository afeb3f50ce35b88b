/** opencodeAgent: an agent-tether `Agent` that runs each turn as a prompt in an OpenCode session. */
import type { Agent, AgentChunk, AgentInput, Logger } from '../../server.js';
import { systemClock, waitAtMost } from '../../internal/clock.js';
import { ChunkQueue } from '../shared/chunk-queue.js';
import { asUpstreamError, upstreamError } from '../shared/upstream-error.js';
import { upstreamId } from '../shared/upstream-id.js';
import { newMessageId } from './message-id.js';
import { OpenCodeEvents } from './opencode-events.js';
import { OpenCodeRest } from './opencode-rest.js';
import { type OpenCodePermission, OpenCodeTurn } from './opencode-turn.js';

/** Options of {@link opencodeAgent}. */
export interface OpenCodeAgentOptions {
  /** Where `opencode serve` listens, e.g. `http://127.0.0.1:4096`. */
  baseUrl: string;
  /** Longest wait for one REST call. @default 30_000 */
  requestTimeoutMs?: number;
  /** Longest wait for OpenCode to show the prompt's user message (its acceptance). @default 60_000 */
  confirmTimeoutMs?: number;
  /** Longest time OpenCode may spend retrying the model (`session.status` `retry`) before the turn fails. @default 60_000 */
  retryTimeoutMs?: number;
  /** After a terminal or an abort, longest wait for the session to go idle before the next prompt. @default 10_000 */
  settleTimeoutMs?: number;
  /** With no event for this long, the bridge re-reads the session's messages (a missed terminal). @default 5_000 */
  pollAfterMs?: number;
  logger?: Logger;
}

/** An {@link Agent} bound to one OpenCode server; `close()` ends its event stream. */
export type OpenCodeAgent = Agent & { close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> };

/** Defaults of {@link OpenCodeAgentOptions}. */
export const OPENCODE_AGENT_DEFAULTS = {
  requestTimeoutMs: 30_000,
  confirmTimeoutMs: 60_000,
  retryTimeoutMs: 60_000,
  settleTimeoutMs: 10_000,
  pollAfterMs: 5_000,
} as const;

/**
 * An agent that drives `opencode serve`: each agent-tether session is an
 * OpenCode session (created on first use, remembered in `memory`), each turn
 * one `prompt_async` with a `messageID` the bridge chooses, confirmed when
 * OpenCode shows that message. One prompt runs at a time per session (the
 * server queues turns), so OpenCode's own queue, which an abort empties, is
 * never used. A cancel aborts only while this turn is the one running.
 *
 * @example
 * const agent = opencodeAgent({ baseUrl: 'http://127.0.0.1:4096' });
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export function opencodeAgent(options: OpenCodeAgentOptions): OpenCodeAgent {
  if (typeof options !== 'object' || options === null || typeof options.baseUrl !== 'string' || !/^https?:\/\//.test(options.baseUrl)) {
    throw new TypeError(`opencodeAgent: \`baseUrl\` must be an http(s) URL, got ${JSON.stringify(options?.baseUrl)}`);
  }
  const o = { ...OPENCODE_AGENT_DEFAULTS, ...definedOnly(options) };
  const logger: Logger = options.logger ?? {};
  const rest = new OpenCodeRest(options.baseUrl, o.requestTimeoutMs);
  const events = new OpenCodeEvents(options.baseUrl, logger);

  /** Waits until `done()` holds, re-checking at every change and re-reading stored messages when the bus is quiet; false after `ms`. */
  const until = async (turn: OpenCodeTurn, ocSession: string, done: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (signal?.aborted) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const changed = await waitAtMost(systemClock, turn.changed(), Math.min(left, o.pollAfterMs));
      if (!changed && !done()) turn.catchUp(await rest.messages(ocSession).catch(() => []));
    }
    return true;
  };

  /** A prompt a previous server left running in this session (it crashed mid-turn): abort it, wait for idle. */
  const settleOrphan = async (ocSession: string): Promise<void> => {
    if (!(await rest.busy(ocSession))) return;
    logger.info?.({ ocSession }, 'agent-tether: aborting an OpenCode prompt left running by an earlier server');
    await rest.abort(ocSession);
    const deadline = Date.now() + o.settleTimeoutMs;
    while ((await rest.busy(ocSession)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  };

  async function drive(input: AgentInput, queue: ChunkQueue): Promise<void> {
    const { sessionId, turnId, signal } = input;
    await waitAtMost(systemClock, events.connected(), o.requestTimeoutMs);
    const ocSession = await upstreamId(input, SESSION_KEY, async () => (await rest.createSession(`agent-tether ${sessionId}`)).id);
    await settleOrphan(ocSession);
    if (signal.aborted) return queue.end();

    const messageId = newMessageId();
    let gapped = false;
    const turn = new OpenCodeTurn(messageId, queue, {
      permission: (permission) => {
        // OpenCode waits for the reply; the turn keeps reading everything else meanwhile.
        void askClients(input, permission)
          .then((response) => rest.reply(ocSession, permission.id, response))
          .catch((error: unknown) => logger.warn?.({ err: error, sessionId }, 'agent-tether: answering an OpenCode permission failed'));
      },
      resumed: () => {
        gapped = true;
        rest.messages(ocSession).then((messages) => turn.catchUp(messages), () => {});
      },
    });
    const stop = events.listen(ocSession, turn);
    let aborted = false;
    // Abort only this prompt: it must be confirmed running and not yet ended (abort is session-wide, F3).
    const abort = () => {
      if (aborted || turn.end || !turn.confirmed) return;
      aborted = true;
      rest.abort(ocSession).catch((error: unknown) => logger.debug?.({ err: error, sessionId, turnId }, 'agent-tether: OpenCode abort failed'));
    };
    signal.addEventListener('abort', abort, { once: true });
    try {
      await rest.promptAsync(ocSession, messageId, input.prompt);
      // 204 says nothing: the prompt counts as accepted once OpenCode shows our message.
      if (!(await until(turn, ocSession, () => turn.confirmed, o.confirmTimeoutMs))) {
        throw upstreamError('upstream_rejected', `OpenCode did not take the prompt within ${o.confirmTimeoutMs} ms`, turn.sessionError);
      }
      if (signal.aborted) abort();
      let retryingSince: number | undefined;
      let failedIdleSince: number | undefined;
      const ended = () => {
        if (turn.end) return true;
        if (turn.retrying) retryingSince ??= Date.now();
        else retryingSince = undefined;
        if (retryingSince !== undefined && Date.now() - retryingSince > o.retryTimeoutMs) return true;
        // Idle after an error with no assistant terminal for a while: the prompt failed before any
        // answer (prompt_async said 204 anyway). Normally the failed assistant message follows the
        // idle, and the next prompt must wait for it (one sent at the first idle was seen lost).
        if (turn.idle && turn.sessionError !== undefined) failedIdleSince ??= Date.now();
        return failedIdleSince !== undefined && Date.now() - failedIdleSince > o.pollAfterMs;
      };
      while (!(await until(turn, ocSession, ended, 30_000))) {
        // Quiet for 30 s: when OpenCode is no longer busy, its stored messages hold the end, or nothing will.
        if (await rest.busy(ocSession).catch(() => true)) continue;
        turn.catchUp(await rest.messages(ocSession));
        if (!turn.end) break;
      }
      if (!turn.end && retryingSince !== undefined) {
        abort();
        throw upstreamError('upstream_retry_timeout', `OpenCode kept retrying the model for more than ${o.retryTimeoutMs} ms`);
      }
      if (gapped) turn.catchUp(await rest.messages(ocSession).catch(() => []));
      // The next prompt goes out only once the session is idle (a prompt sent at the first idle was seen lost).
      await until(turn, ocSession, () => turn.idle, o.settleTimeoutMs);
      const end = turn.end;
      if (!end) throw upstreamError('upstream_failed', 'OpenCode failed the prompt', turn.sessionError ?? 'no answer');
      if (end.status === 'completed' || signal.aborted) return queue.end();
      if (end.status === 'aborted') return queue.fail(upstreamError('upstream_interrupted', 'OpenCode aborted the prompt'));
      queue.fail(upstreamError('upstream_failed', 'OpenCode failed the prompt', end.message));
    } finally {
      signal.removeEventListener('abort', abort);
      stop();
    }
  }

  const agent = (input: AgentInput): AsyncIterable<AgentChunk> => {
    const queue = new ChunkQueue();
    drive(input, queue).catch((error: unknown) => queue.fail(asUpstreamError('OpenCode', error)));
    return queue;
  };
  const close = async () => events.close();
  return Object.assign(agent, { close, [Symbol.asyncDispose]: close });
}

/** Where the session's OpenCode session id is kept in its agent state. */
const SESSION_KEY = 'opencodeSessionId';

const PERMISSION_OPTIONS = [
  { id: 'once', label: 'Allow once' },
  { id: 'always', label: 'Always allow' },
  { id: 'reject', label: 'Reject' },
];

/**
 * OpenCode's `permission.asked` asked of the session's clients (and the server's `inputPolicy`) as an
 * input request of kind `approval`; the first answer is the reply. No answer before the turn ends → `reject`.
 */
async function askClients(input: AgentInput, permission: OpenCodePermission): Promise<string> {
  const patterns = Array.isArray(permission.patterns) ? permission.patterns.join(', ') : '';
  const resolution = await input.requestInput({
    kind: 'approval',
    prompt: `Allow ${String(permission.permission ?? 'this')}${patterns ? `: ${patterns}` : ''}?`,
    options: PERMISSION_OPTIONS,
    details: { source: 'opencode', ...permission },
  });
  const option = resolution.status === 'answered' ? resolution.answer.option : undefined;
  return option === 'once' || option === 'always' ? option : 'reject';
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
