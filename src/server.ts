/**
 * `agent-tether/server`: the protocol's reference server for Node.
 *
 * @example
 * import { createServer, demoAgent, fileStore } from 'agent-tether/server';
 * const server = createServer({ agent: demoAgent(), store: fileStore({ dir: './sessions' }) });
 * const { url } = await server.listen(4317, '127.0.0.1');
 * await server.close();
 */
export {
  createServer,
  type TetherServer,
  type ServerStats,
  type ConnectionStats,
  type CloseOptions,
} from './server/create-server.js';
export { SERVER_DEFAULTS, DEFAULTS, type ServerOptions } from './server/options.js';
export {
  ownerOrShared,
  type Principal,
  type AuthRequest,
  type Authenticate,
  type Authorize,
  type AuthorizeRequest,
  type AuthAction,
  type SessionAccess,
  type Caller,
} from './server/security/principal.js';
export { tokenAuthenticator } from './server/security/token-authenticator.js';
export { SafeAgentError, isSafeAgentError, type SafeAgentErrorOptions } from './server/security/safe-agent-error.js';
export { REDACTED_AGENT_MESSAGE } from './server/security/redact-agent-error.js';
export type { AllowedOrigins } from './server/security/origins.js';
export { memoryStore, type MemoryStore, type MemoryStoreOptions } from './server/stores/memory-store.js';
export { fileStore, type FileStore, type FileStoreOptions } from './server/stores/file-store.js';
export { demoAgent, type DemoAgentOptions } from './server/demo-agent.js';
export {
  createCore,
  TetherCore,
  EventCursor,
  SessionLog,
  ServerError,
  type CoreHealth,
  type CoreOptions,
  type CreateCoreOptions,
  type PromptResult,
  type CursorBatch,
  type LogEntry,
  type Agent,
  type AgentChunk,
  type AgentInput,
  type Logger,
  type AppendOptions,
  type SessionRecord,
  type SessionStore,
  type StoreStats,
  type StoredSession,
  type TurnRecord,
  type UnfinishedTurn,
} from './server/core/index.js';

// Node-only helper for the client: persists resume cursors across process
// restarts with atomic writes (F10). Lives here because `agent-tether` itself
// must stay free of `node:` imports for browsers.
export { fileCursorStore, type FileCursorStoreOptions } from './node/file-cursor-store.js';
export { consoleLogger, type LogFields, type LogLevel } from './logging/logger.js';
