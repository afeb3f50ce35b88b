/** A turn in memory: its live state, and how it reads as a record (store) and as info (wire). */
import type { TerminalEvent, TurnInfo, TurnStatus } from '../../protocol/index.js';
import type { InputEntry } from './input-requests.js';
import type { TurnRecord } from './session-store.js';

/** A turn as the core tracks it while its session is in memory. */
export interface TurnState {
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
  /** When the agent was started (for the turn-end log line). */
  startedAt: number | undefined;
  output: string[];
  abort: AbortController | undefined;
  /** The agent's iteration has ended (returned, threw, or was never started). */
  agentSettled: boolean;
  /** The turn's input requests by id (from its agent, or replayed from the stored log). */
  inputs: Map<string, InputEntry>;
}

/** A fresh in-memory turn from its record (new or stored). */
export function turnFromRecord(sessionId: string, record: TurnRecord): TurnState {
  return {
    id: record.id,
    sessionId,
    status: record.status,
    prompt: record.prompt,
    clientId: record.clientId,
    createdAt: record.createdAt,
    queuedSeq: record.queuedSeq,
    idempotencyKey: record.idempotencyKey,
    terminal: record.terminal,
    startedSeq: undefined,
    startedAt: undefined,
    output: [],
    abort: undefined,
    agentSettled: false,
    inputs: new Map(),
  };
}

/** The record the store keeps of a turn: never its streamed output, which the log and the terminal hold. */
export function turnRecord(turn: TurnState): TurnRecord {
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

/**
 * A turn as readers of the log up to `visible` know it. HTTP never runs ahead
 * of the streams: a client that learns a turn finished (F5 fallback, a
 * snapshot) can always fetch the events that led there, since events become
 * visible only once the store has them.
 */
export function turnInfo(turn: TurnState, visible: number): TurnInfo {
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

/** The status a terminal event gives its turn. */
export function statusOf(event: TerminalEvent): TurnStatus {
  return event.type === 'turn.completed' ? 'completed' : event.type === 'turn.canceled' ? 'canceled' : 'error';
}
