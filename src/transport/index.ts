import { createPollTransport } from './poll.js';
import { createSseTransport } from './sse.js';
import type { Transport, TransportEvents, TransportName, TransportOptions } from './transport.js';
import { createWebSocketTransport } from './websocket.js';

export type {
  CommandFrame,
  CreateTransport,
  Cursor,
  Transport,
  TransportCloseInfo,
  TransportEvents,
  TransportName,
  TransportOptions,
  WebSocketConstructor,
} from './transport.js';
export { TransportLadder, LADDER_DEFAULTS, type LadderOptions } from './ladder.js';
export { DEFAULT_CLOSE_TIMEOUT_MS } from './base-transport.js';
export { POLL_DEADLINE_MARGIN_MS, POLL_EMPTY_FLOOR_MS } from './poll.js';
export { createPollTransport, createSseTransport, createWebSocketTransport };

/**
 * Starts one connection attempt on the named transport. The attempt connects
 * at once (WebSocket) or on its first `subscribe()` (SSE, long-poll), reports
 * through `events`, and is discarded after it closes.
 *
 * @example
 * const transport = createTransport(ladder.current, options, {
 *   open: () => {}, events: (sessionId, events) => {}, reset: (info) => {},
 *   closed: (info) => ladder.report(transport.name, info),
 * });
 */
export function createTransport(
  name: TransportName,
  options: TransportOptions,
  events: TransportEvents,
): Transport {
  switch (name) {
    case 'websocket':
      return createWebSocketTransport(options, events);
    case 'sse':
      return createSseTransport(options, events);
    case 'poll':
      return createPollTransport(options, events);
    default:
      throw new TypeError(`transport: expected "websocket" | "sse" | "poll", got ${JSON.stringify(name)}`);
  }
}
