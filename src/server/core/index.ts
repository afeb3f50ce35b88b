/** The server core's public surface. */
export { TetherCore, type CoreHealth, type CoreOptions, type PromptResult } from './tether-core.js';
export { createCore, type CreateCoreOptions } from './create-core.js';
export { EventCursor, type CursorBatch } from './event-cursor.js';
export { SessionLog, type LogEntry, type LogRead, type NewEvent, type ReadLimits } from './session-log.js';
export { ServerError } from './server-error.js';
export type {
  Agent,
  AgentChunk,
  AgentInput,
  AgentState,
  PastTurn,
  InputResolution,
  InputPolicy,
  InputPolicyContext,
  Logger,
  AppendOptions,
  SessionRecord,
  SessionStore,
  StoreStats,
  StoredSession,
  TurnRecord,
  UnfinishedTurn,
} from './types.js';
