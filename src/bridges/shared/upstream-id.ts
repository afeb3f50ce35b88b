/** upstreamId: the upstream thread or session that serves an agent-tether session, kept in the session's agent state. */
import type { AgentInput } from '../../server.js';

/**
 * The id stored under `key` in the session's agent state (a Codex thread
 * id, an OpenCode session id), or a new one from `create`, stored before it
 * is used. The agent state is persisted with the session in every store, so
 * after a server restart the session finds its thread again.
 */
export async function upstreamId(input: Pick<AgentInput, 'state'>, key: string, create: () => Promise<string>): Promise<string> {
  const known = input.state.get()[key];
  if (typeof known === 'string' && known !== '') return known;
  const id = await create();
  await rememberUpstreamId(input, key, id);
  return id;
}

/** Replace the id stored under `key` (a thread that could not be resumed was replaced). */
export async function rememberUpstreamId(input: Pick<AgentInput, 'state'>, key: string, id: string): Promise<void> {
  await input.state.set({ ...input.state.get(), [key]: id });
}
