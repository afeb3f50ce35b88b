/**
 * `agent-tether/bridges/opencode`: an `Agent` that drives `opencode serve`, so
 * the reference server becomes a durable, multi-client gateway in front of it.
 *
 * @example
 * import { createServer, fileStore } from 'agent-tether/server';
 * import { opencodeAgent } from 'agent-tether/bridges/opencode';
 * const server = createServer({ agent: opencodeAgent({ baseUrl: 'http://127.0.0.1:4096' }), store: fileStore({ dir: './sessions' }) });
 */
export { opencodeAgent, OPENCODE_AGENT_DEFAULTS, type OpenCodeAgent, type OpenCodeAgentOptions } from './opencode/opencode-agent.js';
export type { OpenCodePermission } from './opencode/opencode-turn.js';
