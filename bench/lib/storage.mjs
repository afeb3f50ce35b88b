// Helpers of the storage figures (issue 9): cores on a memory or file store,
// in this process, driven through the public API of dist/server.js.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCore, fileStore, memoryStore } from '../../dist/server.js';

/**
 * A scratch directory on tmpfs when there is one (/dev/shm): the figures
 * measure what the server does per event or per turn, not the disk's fsync
 * latency (20 ms on the shared machine), which would drown it.
 */
export function scratchDir(prefix) {
  const root = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = mkdtempSync(path.join(root, prefix));
  return { dir, root, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A store of `kind` ('memory' | 'file'), its directory, and how to count what it holds for a session. */
export function makeStore(kind, prefix = 'tether-bench-') {
  if (kind === 'memory') {
    const store = memoryStore();
    return { store, remove: () => {}, where: 'in memory' };
  }
  const scratch = scratchDir(prefix);
  return { store: fileStore({ dir: scratch.dir }), remove: scratch.remove, where: scratch.root, dir: scratch.dir };
}

/** A started core on `store` with `agent`. */
export async function startCore(store, agent, extra = {}) {
  const core = createCore({ agent, store, logger: {}, ...extra });
  await core.start();
  return core;
}

/** Resolves once the core's turn has its terminal (read through the log, as clients would). */
export async function turnEnded(core, sessionId, turnId, after = 0) {
  const cursor = await core.cursor(sessionId, { after });
  for (;;) {
    for (const entry of cursor.take({ maxEvents: 100_000 }).entries) {
      const ev = entry.event;
      if (ev.turnId === turnId && (ev.type === 'turn.completed' || ev.type === 'turn.canceled' || ev.type === 'turn.error')) return ev;
    }
    await cursor.wait();
  }
}

/** min / median / max of a list, as "m (lo–hi)". */
export function spread(xs, digits = 2) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: m, min: s[0], max: s.at(-1), text: `${m.toFixed(digits)} (${s[0].toFixed(digits)}–${s.at(-1).toFixed(digits)})` };
}
