import { appendFile, mkdir, readdir, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionEvent } from '../../protocol/index.js';
import { SerializedWriter, isAtomicTempFile } from '../../internal/atomic-write.js';
import type { SessionRecord, SessionStore, StoredSession } from '../core/types.js';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /** Directory holding the session files; created when missing. */
  dir: string;
}

/** A {@link SessionStore} on the file system. */
export interface FileStore extends SessionStore {
  readonly dir: string;
  /** Path of a session's record file. */
  recordPath(sessionId: string): string;
  /** Path of a session's event log (JSON Lines). */
  eventsPath(sessionId: string): string;
  /** Flush pending writes. */
  close(): Promise<void>;
}

const RECORD_SUFFIX = '.session.json';
const EVENTS_SUFFIX = '.events.jsonl';

/**
 * Persists sessions under `dir`: per session, a record `<id>.session.json`
 * replaced atomically (temp file in the same directory, fsync, rename, fsync
 * of the directory; writers serialized per session, superseded writes
 * coalesced), so a concurrent reader never sees an empty or torn record and a
 * crash mid-write keeps the previous version (F10); and an append-only event
 * log `<id>.events.jsonl` (one event per line, appended in order; a torn last
 * line from a crash is ignored and cut off on load).
 *
 * Event appends are not fsync'd one by one: they survive a process crash
 * (SIGKILL), not necessarily a power loss.
 *
 * @example
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export function fileStore(options: FileStoreOptions): FileStore {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
    throw new TypeError('fileStore: `dir` must be a non-empty string');
  }
  const dir = options.dir;
  const writer = new SerializedWriter();
  const appends = new Map<string, { lines: string[]; running: Promise<void> | undefined }>();
  const recordPath = (id: string) => join(dir, `${encodeURIComponent(id)}${RECORD_SUFFIX}`);
  const eventsPath = (id: string) => join(dir, `${encodeURIComponent(id)}${EVENTS_SUFFIX}`);
  let ready: Promise<void> | undefined;
  const ensureDir = () => (ready ??= mkdir(dir, { recursive: true }).then(() => undefined));

  async function drainAppends(id: string): Promise<void> {
    const state = appends.get(id)!;
    await ensureDir();
    // Lines that arrive while a write is in flight go out together in the next one.
    while (state.lines.length > 0) {
      const chunk = state.lines.join('');
      state.lines = [];
      await appendFile(eventsPath(id), chunk);
    }
  }

  return {
    dir,
    recordPath,
    eventsPath,

    async load(): Promise<StoredSession[]> {
      await ensureDir();
      const names = await readdir(dir);
      const sessions: StoredSession[] = [];
      for (const name of names) {
        if (isAtomicTempFile(name)) {
          await unlink(join(dir, name)).catch(() => {});
          continue;
        }
        if (!name.endsWith(RECORD_SUFFIX)) continue;
        const id = decodeURIComponent(name.slice(0, -RECORD_SUFFIX.length));
        let record: SessionRecord;
        try {
          record = JSON.parse(await readFile(join(dir, name), 'utf8')) as SessionRecord;
          if (record?.version !== 1 || record.id !== id || !Array.isArray(record.turns)) continue;
        } catch {
          continue; // unreadable records cannot come from atomic writes; skip rather than crash
        }
        sessions.push({ record, events: await loadEvents(eventsPath(id)) });
      }
      return sessions;
    },

    async saveSession(record: SessionRecord): Promise<void> {
      await ensureDir();
      await writer.write(record.id, recordPath(record.id), JSON.stringify(record));
    },

    appendEvents(sessionId: string, events: readonly SessionEvent[]): Promise<void> {
      let state = appends.get(sessionId);
      if (!state) appends.set(sessionId, (state = { lines: [], running: undefined }));
      // Lines are queued synchronously, so calls land in the file in call order.
      for (const event of events) state.lines.push(`${JSON.stringify(event)}\n`);
      if (!state.running) {
        const current = state;
        current.running = drainAppends(sessionId).finally(() => {
          current.running = undefined;
        });
      }
      return state.running!;
    },

    async close(): Promise<void> {
      const running = [...appends.values()].map((state) => state.running?.catch(() => {}));
      await Promise.all(running);
      await writer.flush();
    },
  };
}

/**
 * Read a JSONL event log. Stops at the first line that is not a complete
 * event (a write torn by a crash) and cuts the file there, so the next
 * append starts on a clean line.
 */
async function loadEvents(path: string): Promise<SessionEvent[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const events: SessionEvent[] = [];
  let offset = 0;
  let goodBytes = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end < 0) break; // torn trailing line
    const line = text.slice(offset, end);
    let event: SessionEvent | undefined;
    try {
      event = JSON.parse(line) as SessionEvent;
    } catch {
      event = undefined;
    }
    const previous = events.at(-1);
    if (!event || typeof event.seq !== 'number' || (previous && event.seq !== previous.seq + 1)) break;
    events.push(event);
    offset = end + 1;
    goodBytes += Buffer.byteLength(line) + 1;
  }
  if (offset < text.length) await truncate(path, goodBytes).catch(() => {});
  return events;
}
