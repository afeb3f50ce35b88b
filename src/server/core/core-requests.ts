/** The shapes of the core's commands and reads: what prompt, cancel, respond and poll take, and what prompt and health answer. */
import type { InputAnswer, TurnInfo } from '../../protocol/index.js';

/** A long-poll request: the cursor, how long to wait, and how much to answer with. */
export interface PollQuery {
  after?: number;
  epoch?: string;
  waitMs?: number;
  maxEvents?: number;
  signal?: AbortSignal;
}

/** What `prompt()` takes. */
export interface PromptRequest {
  prompt: string;
  clientId?: string;
  idempotencyKey?: string;
}

/** An input answer on its way to the node that runs the turn. */
export interface RespondRequest {
  turnId: string;
  requestId: string;
  answer: InputAnswer;
  clientId?: string;
}

/** What `cancel()` takes besides the turn. */
export interface CancelRequest {
  clientId?: string;
  reason?: string;
}

/** What `prompt()` returns: the turn, and whether this call created it (false: idempotency key matched). */
export interface PromptResult {
  turn: TurnInfo;
  created: boolean;
}

/** What `GET /v1/health` and `server.stats()` report about sessions and storage. */
export interface CoreHealth {
  status: 'ok' | 'store_unavailable';
  sessionsInMemory: number;
  /** Sessions the store holds (`null` when the store could not answer). */
  sessionsStored: number | null;
  /** Events held in memory by the loaded sessions. */
  eventsHeld: number;
  /** UTF-8 bytes of those events. */
  bytesHeld: number;
  /** Bytes the store reports holding (`null` when it could not answer). */
  bytesStored: number | null;
}
