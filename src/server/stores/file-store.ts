/** fileStore: the store contract on the file system — atomic records, a segmented JSONL log, streamed restarts. */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionEvent } from '../../protocol/index.js';
import { systemClock, type Clock } from '../../internal/clock.js';
import { SerializedWriter, atomicWriteFile, isAtomicTempFile, syncDir } from '../../internal/atomic-write.js';
import { appendToLog, compactOversized, firstSeqOf, listSegments, readLog, segmentName, type LogState } from './segment-log.js';
import type {
  AppendOptions,
  SessionRecord,
  SessionStore,
  StoreStats,
  StoredSession,
  TurnRecord,
  UnfinishedTurn,
} from '../core/session-store.js';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /** Directory holding the sessions; created when missing. */
  dir: string;
  /** A session whose files were not written this long is deleted when next seen. @default Infinity (opt-in) */
  sessionTtlMs?: number;
  /** Time source for expiry. @default systemClock */
  clock?: Clock;
}

/** A {@link SessionStore} on the file system. */
export interface FileStore extends SessionStore {
  readonly dir: string;
  /** Directory of one session: `session.json`, `turns/<turnId>.json`, `events/<firstSeq>.jsonl`. */
  sessionDir(sessionId: string): string;
  /** Flush pending writes. */
  close(): Promise<void>;
}

const SESSIONS = 'sessions';
const LEGACY_RECORD = '.session.json';
const LEGACY_EVENTS = '.events.jsonl';
const OPEN = 'open';
const RECORD = 'session.json';

/** A file name for an id: URI-encoded, and never `.` or `..` (a leading dot is encoded too). */
const enc = (id: string) => encodeURIComponent(id).replace(/^\./, '%2E');

/**
 * Persists sessions under `dir`, one directory per session:
 *
 * - `session.json` and `turns/<turnId>.json`, each replaced atomically (temp
 *   file, fsync, rename, fsync of the directory; writers serialized per key):
 *   a reader never sees an empty or torn record and a crash keeps the
 *   previous version (F10). Saving a turn writes that turn only.
 * - `events/<firstSeq>.jsonl`: the log in segments of an eighth of the
 *   retention. Appends are fsync'd before they resolve; trimming deletes
 *   whole old segments, so the disk holds at most retention + one segment.
 *   A restart reads only the segments that hold the retained tail, line by
 *   line. A torn last line (crash mid-append) is dropped and cut off; a
 *   corrupt or missing line in the middle is reported as a problem and only
 *   the events after it are served.
 * - `open/<sessionId>+<turnId>`: one empty marker per unfinished turn, so a
 *   restart finds what it must end as `interrupted` without reading every
 *   session (100 000 sessions start as fast as one).
 *
 * @example
 * const server = createServer({ agent, store: fileStore({ dir: './sessions' }) });
 */
export function fileStore(options: FileStoreOptions): FileStore {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
    throw new TypeError('fileStore: `dir` must be a non-empty string');
  }
  const ttlMs = options.sessionTtlMs ?? Number.POSITIVE_INFINITY;
  if (typeof ttlMs !== 'number' || !(ttlMs > 0)) {
    throw new TypeError(`fileStore: \`sessionTtlMs\` must be a positive number or Infinity, got ${String(ttlMs)}`);
  }
  const clock = options.clock ?? systemClock;
  const dir = options.dir;
  const sessionsDir = join(dir, SESSIONS);
  const openDir = join(dir, OPEN);
  const writer = new SerializedWriter();
  const logs = new Map<string, LogState>();
  const chains = new Map<string, Promise<unknown>>();
  let opened: Promise<void> | undefined;

  const sessionDir = (id: string) => join(sessionsDir, enc(id));
  const eventsDir = (id: string) => join(sessionDir(id), 'events');
  const turnsDir = (id: string) => join(sessionDir(id), 'turns');
  const marker = (id: string, turnId: string) => join(openDir, `${enc(id)}+${enc(turnId)}`);

  /** Run `fn` after every earlier call for `key` settled: log writes never interleave (F10). */
  function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = chains.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return next;
  }

  const ensureOpen = () => (opened ??= openStore(dir, [sessionsDir, openDir]).then(() => migrateLegacy()));

  /**
   * Sessions written by agent-tether ≤ 0.x (`<id>.session.json` holding every
   * turn, `<id>.events.jsonl` holding the whole log) move into the layout
   * above once, at open: turns become turn records, the log becomes one
   * segment (cut to the retained tail at the session's first load), unfinished turns get their markers.
   */
  async function migrateLegacy(): Promise<void> {
    for (const name of await readdir(dir)) {
      if (!name.endsWith(LEGACY_RECORD)) continue;
      const id = decodeURIComponent(name.slice(0, -LEGACY_RECORD.length));
      const legacyPath = join(dir, name);
      let legacy: { version: 1; id: string; epoch: string; createdAt: number; metadata?: Record<string, unknown>; turns: TurnRecord[] };
      try {
        legacy = JSON.parse(await readFile(legacyPath, 'utf8'));
        if (legacy?.version !== 1 || legacy.id !== id || !Array.isArray(legacy.turns)) throw new Error('not a version 1 record');
      } catch (error) {
        throw new Error(`fileStore: cannot migrate ${legacyPath} from the previous layout: ${errorText(error)}`, { cause: error });
      }
      await mkdir(turnsDir(id), { recursive: true });
      await mkdir(eventsDir(id), { recursive: true });
      for (const turn of legacy.turns) {
        if (!turn.terminal) {
          const handle = await open(marker(id, turn.id), 'w');
          await handle.close();
        }
        await atomicWriteFile(join(turnsDir(id), `${enc(turn.id)}.json`), JSON.stringify(turn));
      }
      const legacyEvents = join(dir, `${enc(id)}${LEGACY_EVENTS}`);
      const first = await firstSeqOf(legacyEvents);
      if (first !== undefined) await rename(legacyEvents, join(eventsDir(id), segmentName(first)));
      else await unlink(legacyEvents).catch(() => {});
      const record: SessionRecord = { version: 2, id, epoch: legacy.epoch, createdAt: legacy.createdAt };
      if (legacy.metadata !== undefined) record.metadata = legacy.metadata;
      await atomicWriteFile(join(sessionDir(id), RECORD), JSON.stringify(record));
      await syncDir(openDir);
      await syncDir(sessionsDir);
      // Last: a crash before this line migrates the session again from scratch next time.
      await unlink(legacyPath);
    }
  }

  async function logState(id: string, maxEvents: number): Promise<LogState> {
    let state = logs.get(id);
    if (!state) {
      state = (await readLog(eventsDir(id), maxEvents, [])).state;
      logs.set(id, state);
    }
    return state;
  }

  async function isExpired(id: string): Promise<boolean> {
    if (ttlMs === Number.POSITIVE_INFINITY) return false;
    let newest = 0;
    for (const path of [join(sessionDir(id), RECORD), ...(await listSegments(eventsDir(id))).slice(-1).map((first) => join(eventsDir(id), segmentName(first)))]) {
      newest = Math.max(newest, await stat(path).then((s) => s.mtimeMs, () => 0));
    }
    return clock.now() - newest > ttlMs;
  }

  async function removeSession(id: string): Promise<void> {
    logs.delete(id);
    await rm(sessionDir(id), { recursive: true, force: true });
    const prefix = `${enc(id)}+`;
    for (const name of await readdir(openDir).catch(() => [] as string[])) {
      if (name.startsWith(prefix)) await unlink(join(openDir, name)).catch(() => {});
    }
  }

  return {
    dir,
    sessionDir,

    open: ensureOpen,

    saveSession(record: SessionRecord): Promise<void> {
      const json = JSON.stringify(record);
      // Serialized per session, so record writes land in call order (F10).
      return serial(`${record.id}/record`, async () => {
        await ensureOpen();
        const fresh = await stat(sessionDir(record.id)).then(() => false, () => true);
        if (fresh) {
          await mkdir(turnsDir(record.id), { recursive: true });
          await mkdir(eventsDir(record.id), { recursive: true });
          await syncDir(sessionsDir);
          logs.set(record.id, { segments: [], lastSeq: 0 });
        }
        await writer.write(`${record.id}/`, join(sessionDir(record.id), RECORD), json);
      });
    },

    async loadSession(sessionId: string, { maxEvents }: AppendOptions): Promise<StoredSession | undefined> {
      await ensureOpen();
      return serial(sessionId, async () => {
        let text: string;
        try {
          text = await readFile(join(sessionDir(sessionId), RECORD), 'utf8');
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw error;
        }
        if (await isExpired(sessionId)) {
          await removeSession(sessionId);
          return undefined;
        }
        const problems: string[] = [];
        let record: SessionRecord;
        try {
          record = JSON.parse(text) as SessionRecord;
          if (record?.version !== 2 || record.id !== sessionId) throw new Error('not a version 2 record of this session');
        } catch (error) {
          // Atomic writes never leave a torn record, so this is damage from outside: say so, and serve what is left under a new epoch.
          problems.push(`${join(sessionDir(sessionId), RECORD)}: unreadable session record (${errorText(error)}); the session gets a new epoch`);
          record = { version: 2, id: sessionId, epoch: '', createdAt: 0 };
        }
        for (const name of await readdir(sessionDir(sessionId)).catch(() => [] as string[])) {
          if (isAtomicTempFile(name)) await removeStaleTemp(join(sessionDir(sessionId), name), clock.now());
        }
        const turns: TurnRecord[] = [];
        for (const name of await readdir(turnsDir(sessionId)).catch(() => [] as string[])) {
          const path = join(turnsDir(sessionId), name);
          if (isAtomicTempFile(name)) {
            await removeStaleTemp(path, clock.now());
            continue;
          }
          try {
            turns.push(JSON.parse(await readFile(path, 'utf8')) as TurnRecord);
          } catch (error) {
            problems.push(`${path}: unreadable turn record (${errorText(error)}); skipped`);
          }
        }
        const before = problems.length;
        const { events, state } = await readLog(eventsDir(sessionId), maxEvents, problems);
        if (problems.length === before) await compactOversized(eventsDir(sessionId), state, events, maxEvents);
        logs.set(sessionId, state);
        return problems.length > 0 ? { record, turns, events, problems } : { record, turns, events };
      });
    },

    appendEvents(sessionId: string, events: readonly SessionEvent[], { maxEvents }: AppendOptions): Promise<void> {
      return serial(sessionId, async () => {
        await ensureOpen();
        const state = await logState(sessionId, maxEvents);
        try {
          await appendToLog(eventsDir(sessionId), state, events, maxEvents);
        } catch (error) {
          // A segment may hold part of the batch: forget what we know so the next call re-reads the disk.
          logs.delete(sessionId);
          throw error;
        }
      });
    },

    async saveTurn(sessionId: string, turn: TurnRecord): Promise<void> {
      await ensureOpen();
      const path = marker(sessionId, turn.id);
      if (!turn.terminal) {
        // The marker first: an acknowledged turn is always found by the next start-up.
        const handle = await open(path, 'w', 0o644);
        await handle.close();
        await syncDir(openDir);
      }
      await writer.write(`${sessionId}/${turn.id}`, join(turnsDir(sessionId), `${enc(turn.id)}.json`), JSON.stringify(turn));
      if (turn.terminal) await unlink(path).catch(() => {});
    },

    async unfinishedTurns(): Promise<UnfinishedTurn[]> {
      await ensureOpen();
      const out: UnfinishedTurn[] = [];
      for (const name of await readdir(openDir)) {
        const [sid, tid] = name.split('+');
        if (sid === undefined || tid === undefined) continue;
        const sessionId = decodeURIComponent(sid);
        const turnId = decodeURIComponent(tid);
        // A marker whose turn ended (crash between the record and the unlink) is stale.
        const turn = await readFile(join(turnsDir(sessionId), `${enc(turnId)}.json`), 'utf8').then(
          (text) => JSON.parse(text) as TurnRecord,
          () => undefined,
        );
        if (turn?.terminal) await unlink(join(openDir, name)).catch(() => {});
        else out.push({ sessionId, turnId });
      }
      return out;
    },

    async deleteSession(sessionId: string): Promise<void> {
      await serial(sessionId, () => removeSession(sessionId));
    },

    async stats(): Promise<StoreStats> {
      await ensureOpen();
      const names = await readdir(sessionsDir);
      let bytes = 0;
      // Bytes of the logs this process has read or written: counting the rest would read every session.
      for (const state of logs.values()) for (const segment of state.segments) bytes += segment.bytes;
      return { sessions: names.length, bytes };
    },

    async close(): Promise<void> {
      await Promise.all([...chains.values()]);
      await writer.flush();
    },
  };
}

/**
 * Check `dir` is usable and create its layout; the error says exactly what is
 * wrong (missing and not creatable, a file, read-only, permission denied).
 */
async function openStore(dir: string, subdirs: string[]): Promise<void> {
  const info = await stat(dir).catch((error: unknown) => {
    if (isMissing(error)) return undefined;
    throw new Error(`fileStore: cannot read the store directory ${dir}: ${errorText(error)}`, { cause: error });
  });
  if (info && !info.isDirectory()) throw new Error(`fileStore: ${dir} is not a directory (the store needs a directory)`);
  try {
    for (const sub of subdirs) await mkdir(sub, { recursive: true });
    await readdir(dir);
    const probe = join(dir, `.probe-${process.pid}`);
    const handle = await open(probe, 'w');
    await handle.close();
    await unlink(probe);
  } catch (error) {
    throw new Error(`fileStore: the store directory ${dir} is not writable: ${errorText(error)}`, { cause: error });
  }
}

// A temp file younger than this may be another process's write in flight (a restart overlapping a shutdown).
const STALE_TEMP_MS = 60_000;

/**
 * Remove a temp file a crash left between "write temp" and "rename" (the
 * previous record stands, F10) — only once it is old enough that no live
 * writer can still be about to rename it.
 */
async function removeStaleTemp(path: string, now: number): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info && now - info.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => {});
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}
