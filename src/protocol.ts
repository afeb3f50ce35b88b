/**
 * `agent-tether/protocol`: zod schemas of every wire frame and event, their
 * inferred types, and the protocol's constants. No I/O; runs anywhere.
 *
 * @example
 * import { SessionEvent } from 'agent-tether/protocol';
 * const parsed = SessionEvent.safeParse(JSON.parse(data));
 */
export * from './protocol/index.js';
