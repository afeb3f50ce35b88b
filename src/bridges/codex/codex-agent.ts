/** codexAgent: an agent-tether `Agent` that runs each turn on a Codex app-server thread. */
import type { Agent, AgentChunk, AgentInput, Logger } from '../../server.js';
import { systemClock, waitAtMost } from '../../internal/clock.js';
import { ChunkQueue } from '../shared/chunk-queue.js';
import { asUpstreamError, upstreamError } from '../shared/upstream-error.js';
import { rememberUpstreamId, upstreamId } from '../shared/upstream-id.js';
import { CodexConnection } from './codex-connection.js';
import { CodexTurn, type CodexRequest, type CodexTurnInfo } from './codex-turn.js';
import { type CodexEndpoint, JsonRpcError, type JsonRpcLink, LinkClosedError } from './json-rpc-link.js';

/** Options of {@link codexAgent}: where Codex is, plus how threads are started. */
export type CodexAgentOptions = CodexEndpoint & {
  /** `cwd` of new threads (Codex's working directory for the agent). @default Codex's own */
  cwd?: string;
  /** `approvalPolicy` of new threads (`never`, `on-request`, `untrusted`, …). @default Codex's configured one */
  approvalPolicy?: string;
  /** `sandbox` of new threads (`read-only`, `workspace-write`, …). @default Codex's configured one */
  sandbox?: string;
  /** `model` of new threads. @default Codex's configured one */
  model?: string;
  /** How long one attempt to reach Codex may take. @default 10_000 */
  connectTimeoutMs?: number;
  /** How long a turn waits for Codex to come back after a lost connection before it fails. @default 30_000 */
  reconnectTimeoutMs?: number;
  /** After a cancel (or before the next turn), how long to wait for Codex to end the interrupted turn. @default 10_000 */
  settleTimeoutMs?: number;
  logger?: Logger;
};

/** An {@link Agent} bound to one Codex app-server; `close()` ends the connection (and a spawned app-server). */
export type CodexAgent = Agent & { close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> };

/** Defaults of {@link CodexAgentOptions}. */
export const CODEX_AGENT_DEFAULTS = {
  connectTimeoutMs: 10_000,
  reconnectTimeoutMs: 30_000,
  settleTimeoutMs: 10_000,
} as const;

/** Where the session's Codex thread id is kept in its agent state. */
const THREAD_KEY = 'codexThreadId';

/** Codex answers `turn/interrupt` for a turn that already ended with this code. */
const INVALID_REQUEST = -32600;

/**
 * An agent that drives a Codex app-server: each agent-tether session is a
 * Codex thread (started on first use, remembered in `memory`), each turn a
 * `turn/start`; agent messages stream as deltas, every item as `turn.item`.
 * A cancel sends `turn/interrupt` and waits for Codex to end the turn, so the
 * next queued prompt never lands in the interrupted one. The connection is
 * read continuously (Codex drops readers that fall behind: F6); after a lost
 * connection the bridge reconnects, re-initializes, resumes the thread and
 * recovers the text it missed.
 *
 * @example
 * const agent = codexAgent({ url: 'ws://127.0.0.1:4500' });            // a running `codex app-server --listen`
 * const agent = codexAgent({ command: 'codex', args: ['app-server'] }); // or one spawned on stdio
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export function codexAgent(options: CodexAgentOptions): CodexAgent {
  const endpoint = checkEndpoint(options);
  const settleTimeoutMs = options.settleTimeoutMs ?? CODEX_AGENT_DEFAULTS.settleTimeoutMs;
  const logger: Logger = options.logger ?? {};
  const connection = new CodexConnection({
    endpoint,
    connectTimeoutMs: options.connectTimeoutMs ?? CODEX_AGENT_DEFAULTS.connectTimeoutMs,
    reconnectTimeoutMs: options.reconnectTimeoutMs ?? CODEX_AGENT_DEFAULTS.reconnectTimeoutMs,
    logger,
    clientName: 'agent-tether',
    clientVersion: '0',
  });
  /** Per thread: settles when the last turn the bridge started there has ended in Codex. */
  const settled = new Map<string, Promise<unknown>>();
  const threadParams = pick(options, ['cwd', 'approvalPolicy', 'sandbox', 'model']);

  const startThread = async (link: JsonRpcLink): Promise<string> => {
    const { thread } = (await link.request('thread/start', threadParams)) as { thread: { id: string } };
    connection.markFollowed(thread.id);
    return thread.id;
  };

  /**
   * Follow `threadId` on the current connection. A thread with no turn yet is
   * not resumable (Codex has not written it down): a new one replaces it.
   */
  const attach = async (link: JsonRpcLink, input: AgentInput, threadId: string): Promise<{ threadId: string; active: boolean }> => {
    if (connection.follows(threadId)) return { threadId, active: false };
    try {
      const resumed = (await link.request('thread/resume', { threadId, excludeTurns: true })) as { thread: { status?: { type?: string } } };
      connection.markFollowed(threadId);
      return { threadId, active: resumed.thread.status?.type === 'active' };
    } catch (error) {
      if (!(error instanceof JsonRpcError && /no rollout found/.test(error.message))) throw error;
      const fresh = await startThread(link);
      await rememberUpstreamId(input, THREAD_KEY, fresh);
      return { threadId: fresh, active: false };
    }
  };

  const lastTurn = async (link: JsonRpcLink, threadId: string): Promise<CodexTurnInfo | undefined> => {
    const page = (await link.request('thread/turns/list', { threadId, limit: 1, itemsView: 'full' })) as { data: CodexTurnInfo[] };
    return page.data[0];
  };

  /** A turn Codex still runs that no turn of ours owns (its server restarted mid-turn): interrupt it and wait. */
  const interruptOrphan = async (link: JsonRpcLink, threadId: string): Promise<void> => {
    const orphan = await lastTurn(link, threadId);
    if (!orphan || orphan.status !== 'inProgress') return;
    logger.info?.({ threadId, codexTurnId: orphan.id }, 'agent-tether: interrupting a Codex turn left running by an earlier server');
    const ended = new Promise<void>((resolve) => {
      const stop = connection.listen(threadId, {
        notification: (method, params) => {
          if (method === 'turn/completed' && (params.turn as { id?: string }).id === orphan.id) {
            stop();
            resolve();
          }
        },
        request: (id) => link.answer(id, { decision: 'cancel' }),
        lost: () => {
          stop();
          resolve();
        },
      });
    });
    await link.request('turn/interrupt', { threadId, turnId: orphan.id }).catch(() => {});
    await waitAtMost(systemClock, ended, settleTimeoutMs);
  };

  async function drive(input: AgentInput, queue: ChunkQueue): Promise<void> {
    const { sessionId, turnId, signal } = input;
    let link = await connection.ready();
    let threadId = await upstreamId(input, THREAD_KEY, () => startThread(link));
    const previous = settled.get(threadId);
    if (previous) await waitAtMost(systemClock, previous, settleTimeoutMs);
    const attached = await attach(link, input, threadId);
    threadId = attached.threadId;
    if (attached.active) await interruptOrphan(link, threadId);
    if (signal.aborted) return queue.end();

    const turn = new CodexTurn(queue, (request) => {
      // Codex waits for the answer; the turn keeps reading everything else meanwhile.
      void askClients(input, request).then((decision) => link.answer(request.id, { decision }));
    });
    const stop = connection.listen(threadId, turn);
    settled.set(threadId, turn.completed);
    const interrupt = () => {
      if (turn.turnId === undefined) return;
      // On a turn that already ended Codex answers -32600: the cancel found nothing to stop.
      link.request('turn/interrupt', { threadId, turnId: turn.turnId }).catch((error: unknown) => {
        if (!(error instanceof JsonRpcError && error.code === INVALID_REQUEST)) {
          logger.debug?.({ err: error, sessionId, turnId }, 'agent-tether: turn/interrupt failed');
        }
      });
    };
    signal.addEventListener('abort', interrupt, { once: true });
    try {
      const { turn: started } = (await link.request('turn/start', {
        threadId,
        input: [{ type: 'text', text: input.prompt, text_elements: [] }],
      })) as { turn: { id: string } };
      turn.started(started.id);
      if (signal.aborted) interrupt();
      let ended: CodexTurnInfo | undefined;
      while (!ended) {
        const seen = turn.losses;
        ended = await Promise.race([turn.completed, turn.whenLost(seen).then(() => undefined)]);
        if (ended) break;
        // Lost the connection: Codex (over WebSocket) keeps running the turn. Reach it again,
        // follow the thread again, and learn whether the turn ended while we were away.
        // Losing it again meanwhile just means one more round (each bounded by reconnectTimeoutMs).
        try {
          link = await connection.ready();
          await attach(link, input, threadId);
          const latest = await lastTurn(link, threadId);
          if (latest?.id !== started.id) throw upstreamError('upstream_unavailable', 'Codex lost the turn (it restarted?)');
          else if (latest.status !== 'inProgress') turn.finish(latest);
          if (signal.aborted) interrupt();
        } catch (error) {
          if (!(error instanceof LinkClosedError)) throw error;
        }
      }
      if (ended.status === 'completed' || signal.aborted) return queue.end();
      if (ended.status === 'interrupted') return queue.fail(upstreamError('upstream_interrupted', 'Codex interrupted the turn'));
      queue.fail(upstreamError('upstream_failed', 'Codex failed the turn', ended.error?.message ?? turn.lastError ?? `status ${ended.status}`));
    } finally {
      signal.removeEventListener('abort', interrupt);
      stop();
    }
  }

  const agent = (input: AgentInput): AsyncIterable<AgentChunk> => {
    const queue = new ChunkQueue();
    drive(input, queue).catch((error: unknown) => queue.fail(asUpstreamError('Codex', error)));
    return queue;
  };
  const close = async () => connection.close();
  return Object.assign(agent, { close, [Symbol.asyncDispose]: close });
}

/**
 * A Codex approval request (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`, …)
 * asked of the session's clients (and the server's `inputPolicy`) as an input request of kind
 * `approval`; the first answer is Codex's decision. No answer before the turn ends → `cancel`.
 */
async function askClients(input: AgentInput, request: CodexRequest): Promise<unknown> {
  const p = request.params;
  const offered = Array.isArray(p.availableDecisions) ? p.availableDecisions.filter((d): d is string => typeof d === 'string') : [];
  const decisions = offered.length > 0 ? offered : ['accept', 'decline'];
  const what = typeof p.command === 'string' ? `Run \`${p.command}\`?` : `Allow ${request.method.replace(/^item\/|\/requestApproval$/g, '')}?`;
  const resolution = await input.requestInput({
    kind: 'approval',
    prompt: typeof p.reason === 'string' && p.reason !== '' ? `${what} (${p.reason})` : what,
    options: decisions.map((id) => ({ id, label: DECISION_LABELS[id] ?? id })),
    details: { source: 'codex', method: request.method, ...p },
  });
  if (resolution.status !== 'answered') return 'cancel';
  return resolution.answer.option ?? (resolution.answer.text === undefined ? 'decline' : resolution.answer.text);
}

const DECISION_LABELS: Record<string, string> = {
  accept: 'Approve',
  acceptForSession: 'Approve for this session',
  decline: 'Decline',
  cancel: 'Decline and stop the turn',
};

function checkEndpoint(options: CodexAgentOptions): CodexEndpoint {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('codexAgent: options must be { url } or { command, args }');
  }
  if ('url' in options && options.url !== undefined) {
    if (typeof options.url !== 'string' || !/^wss?:\/\//.test(options.url)) {
      throw new TypeError(`codexAgent: \`url\` must be a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`);
    }
    return { url: options.url };
  }
  if ('command' in options && typeof options.command === 'string' && options.command !== '') {
    return { command: options.command, args: options.args ?? ['app-server'], env: options.env, cwd: options.cwd };
  }
  throw new TypeError('codexAgent: options must hold `url` (ws://…) or `command` (e.g. "codex")');
}

function pick(options: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (options[key] !== undefined) out[key] = options[key];
  return out;
}
