/**
 * `agent-tether`: the client. Runs in browsers and Node ≥ 22.
 *
 * @example
 * import { createClient } from 'agent-tether';
 * await using client = createClient({ baseUrl: 'http://127.0.0.1:4317' });
 * const session = await client.createSession();
 * const turn = await session.prompt('Rename foo to bar');
 * for await (const ev of turn) if (ev.type === 'turn.delta') process.stdout.write(ev.text);
 * console.log((await turn.result).type);
 */
export * from './errors/index.js';
export type {
  SessionEvent,
  TurnEvent,
  TerminalEvent,
  TerminalType,
  TurnQueuedEvent,
  TurnStartedEvent,
  TurnDeltaEvent,
  TurnItemEvent,
  TurnCompletedEvent,
  TurnCanceledEvent,
  TurnErrorEvent,
  TurnErrorInfo,
  UnknownSessionEvent,
  SessionInfo,
  SessionSnapshot,
  TurnInfo,
  TurnStatus,
} from './protocol/index.js';
export { createClient } from './client/client.js';
export type { Client, ClientEvents, CreateSessionOptions } from './client/client.js';
export type { ClientOptions, ReconnectOptions } from './client/options.js';
export type { TokenOption } from './client/credentials.js';
export { consoleLogger, type Logger, type LogFields, type LogLevel } from './logging/logger.js';
export { CLIENT_DEFAULTS, DEFAULTS, RECONNECT_DEFAULTS } from './client/options.js';
export type { ClientState, ClientStatus } from './client/client-state.js';
export type { Session, PromptOptions } from './client/session.js';
export type { Turn, CancelResult } from './client/turn.js';
export type { Subscription, SubscribeOptions, SubscriptionEvent, SessionResetEvent } from './client/subscription.js';
export {
  memoryCursorStore,
  localStorageCursorStore,
  type CursorStore,
  type StoredCursor,
  type LocalStorageCursorStoreOptions,
} from './client/cursor-store.js';
export type { TransportName, WebSocketConstructor } from './transport/transport.js';
