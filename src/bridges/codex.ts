/**
 * `agent-tether/bridges/codex`: an `Agent` that drives a Codex app-server, so
 * the reference server becomes a durable, multi-client gateway in front of it.
 *
 * @example
 * import { createServer, fileStore } from 'agent-tether/server';
 * import { codexAgent } from 'agent-tether/bridges/codex';
 * const agent = codexAgent({ command: 'codex', args: ['app-server'] });
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export { codexAgent, CODEX_AGENT_DEFAULTS, type CodexAgent, type CodexAgentOptions } from './codex/codex-agent.js';
export type { CodexRequest } from './codex/codex-turn.js';
