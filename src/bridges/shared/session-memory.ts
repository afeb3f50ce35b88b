/** SessionMemory: where a bridge remembers which upstream thread or session serves an agent-tether session. */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SerializedWriter } from '../../internal/atomic-write.js';

/**
 * The upstream id (a Codex thread id, an OpenCode session id) per
 * agent-tether session. It must outlive the server process for a session to
 * keep its conversation across restarts: pass one backed by durable storage.
 */
export interface SessionMemory {
  get(sessionId: string): string | undefined | Promise<string | undefined>;
  set(sessionId: string, upstreamId: string): void | Promise<void>;
}

/**
 * A {@link SessionMemory} in this process only (the default): the mapping
 * is lost when the process exits, and a session then starts a new upstream
 * thread or session.
 *
 * @example
 * const agent = codexAgent({ url, memory: inMemorySessionMemory() });
 */
export function inMemorySessionMemory(): SessionMemory {
  const ids = new Map<string, string>();
  return {
    get: (sessionId) => ids.get(sessionId),
    set: (sessionId, upstreamId) => {
      ids.set(sessionId, upstreamId);
    },
  };
}

/**
 * The upstream id of `sessionId`, created with `create` and remembered on
 * first use. Concurrent calls for one session share one creation.
 */
export function upstreamIdFor(
  memory: SessionMemory,
  creating: Map<string, Promise<string>>,
  sessionId: string,
  create: () => Promise<string>,
): Promise<string> {
  const running = creating.get(sessionId);
  if (running) return running;
  const promise = (async () => {
    const known = await memory.get(sessionId);
    if (known !== undefined) return known;
    const id = await create();
    await memory.set(sessionId, id);
    return id;
  })().finally(() => creating.delete(sessionId));
  creating.set(sessionId, promise);
  return promise;
}

/**
 * A {@link SessionMemory} kept in one JSON file, rewritten atomically on
 * every change (F10), so a restarted server finds each session's upstream
 * thread or session again. `serve --agent … --store <dir>` keeps it in that
 * directory.
 *
 * @example
 * const agent = codexAgent({ url, memory: fileSessionMemory({ path: './sessions/codex-threads.json' }) });
 */
export function fileSessionMemory(options: { path: string }): SessionMemory {
  const writer = new SerializedWriter();
  let ids: Promise<Map<string, string>> | undefined;
  const load = () =>
    (ids ??= readFile(options.path, 'utf8').then(
      (text) => new Map(Object.entries(JSON.parse(text) as Record<string, string>)),
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return new Map<string, string>();
        ids = undefined; // try again next time: a read error is not an empty memory
        throw error;
      },
    ));
  return {
    get: async (sessionId) => (await load()).get(sessionId),
    set: async (sessionId, upstreamId) => {
      const map = await load();
      map.set(sessionId, upstreamId);
      await mkdir(dirname(options.path), { recursive: true });
      await writer.write('memory', options.path, JSON.stringify(Object.fromEntries(map)));
    },
  };
}
