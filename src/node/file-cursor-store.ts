import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { isStoredCursor, type CursorStore, type StoredCursor } from '../client/cursor-store.js';
import { SerializedWriter } from '../internal/atomic-write.js';

/** Options of `fileCursorStore`: one of `dir` (a file per key) or `path` (one JSON file for all keys). */
export type FileCursorStoreOptions = { dir: string; path?: undefined } | { path: string; dir?: undefined };

/** A file name that is safe on every OS for any key (keys hold URLs). */
function fileName(key: string): string {
  return `${encodeURIComponent(key).replace(/\*/g, '%2A').replace(/%/g, '_')}.cursor.json`;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    // Absent or unreadable: resume from the start rather than fail.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * Persists cursors on disk so a restarted Node process resumes where it
 * stopped (F10): every write goes to a temp file, is fsynced and renamed over
 * the old one, and writes to one file are serialized (only the newest pending
 * one is written). A reader never sees an empty or torn file; a crash leaves
 * the previous cursor.
 *
 * With `dir`, each session gets its own small file; with `path`, all cursors
 * live in one JSON object (fine for a handful of sessions).
 *
 * @example
 * import { fileCursorStore } from 'agent-tether/server';
 * const client = createClient({ baseUrl, cursorStore: fileCursorStore({ dir: './.cursors' }) });
 */
export function fileCursorStore(options: FileCursorStoreOptions): CursorStore & { flush(): Promise<void> } {
  const writer = new SerializedWriter();
  if (options?.dir !== undefined && typeof options.dir === 'string' && options.path === undefined) {
    const dir = options.dir;
    mkdirSync(dir, { recursive: true });
    return {
      async get(key) {
        const value = await readJson(join(dir, fileName(key)));
        return isStoredCursor(value) ? { epoch: value.epoch, seq: value.seq } : undefined;
      },
      set(key, cursor) {
        const path = join(dir, fileName(key));
        return writer.write(path, path, JSON.stringify({ epoch: cursor.epoch, seq: cursor.seq }));
      },
      flush: () => writer.flush(),
    };
  }
  if (options?.path !== undefined && typeof options.path === 'string' && options.dir === undefined) {
    const path = options.path;
    // One file for every key: keep the whole map in memory, write it whole.
    let cache: Promise<Record<string, StoredCursor>> | undefined;
    const load = () =>
      (cache ??= readJson(path).then((value) => {
        const map: Record<string, StoredCursor> = {};
        if (value && typeof value === 'object') {
          for (const [key, cursor] of Object.entries(value)) if (isStoredCursor(cursor)) map[key] = cursor;
        }
        return map;
      }));
    return {
      async get(key) {
        const cursor = (await load())[key];
        return cursor && { ...cursor };
      },
      async set(key, cursor) {
        const map = await load();
        map[key] = { epoch: cursor.epoch, seq: cursor.seq };
        await writer.write(path, path, JSON.stringify(map));
      },
      flush: () => writer.flush(),
    };
  }
  throw new TypeError('fileCursorStore: pass exactly one of `dir` (a directory) or `path` (a file)');
}
