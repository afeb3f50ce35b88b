/** fileStore: the store contract on the file system — atomic records, a segmented JSONL log, streamed restarts. */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SessionEvent } from '../../protocol/index.js';
import { systemClock, type Clock } from '../../internal/clock.js';
import { SerializedWriter, atomicWriteFile, isAtomicTempFile, syncDir } from '../../internal/atomic-write.js';
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

interface Segment {
  first: number;
  count: number;
  bytes: number;
}

/** One segment as read at load. */
interface SegmentRead {
  path: string;
  first: number;
  events: SessionEvent[];
  count: number;
  bytes: number;
  /** Damage inside: events before this segment's are not served. */
  restart: boolean;
}

/** What this process knows of a session's log on disk (rebuilt from disk when missing). */
interface LogState {
  segments: Segment[];
  lastSeq: number;
}

const SESSIONS = 'sessions';
const LEGACY_RECORD = '.session.json';
const LEGACY_EVENTS = '.events.jsonl';
const OPEN = 'open';
const RECORD = 'session.json';
const SEGMENT_SUFFIX = '.jsonl';

/** Events per segment: an eighth of the retention, so trimming deletes whole files and holds at most 1/8 extra. */
function segmentSize(maxEvents: number): number {
  return Math.max(16, Math.ceil(maxEvents / 8));
}

const segmentName = (first: number) => `${String(first).padStart(16, '0')}${SEGMENT_SUFFIX}`;
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
   * segment (trimmed by the next append), unfinished turns get their markers.
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
      state = (await readLog(id, maxEvents, [])).state;
      logs.set(id, state);
    }
    return state;
  }

  /** Segments on disk, oldest first; leftover temp files are removed. */
  async function listSegments(id: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(eventsDir(id));
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    return names
      .filter((name) => name.endsWith(SEGMENT_SUFFIX))
      .map((name) => Number(name.slice(0, -SEGMENT_SUFFIX.length)))
      .filter((first) => Number.isSafeInteger(first) && first > 0)
      .sort((a, b) => a - b);
  }

  /** Stream the segments holding the newest `maxEvents` events; the retained tail and what this process must know to append. */
  async function readLog(id: string, maxEvents: number, problems: string[]): Promise<{ events: SessionEvent[]; state: LogState }> {
    const firsts = await listSegments(id);
    if (firsts.length === 0) return { events: [], state: { segments: [], lastSeq: 0 } };
    // The last segment first: its end is the log's end, which says exactly which older segments hold the tail.
    const last = await readSegment(id, firsts.at(-1)!, true, maxEvents, problems);
    const lastSeq = last.events.at(-1)?.seq ?? firsts.at(-1)! - 1;
    const from = lastSeq - maxEvents + 1;
    let start = firsts.length - 1;
    while (start > 0 && firsts[start]! > from) start--;
    const segments: Segment[] = [];
    for (let i = 0; i < start; i++) {
      // Segments before the tail: counts follow from the names, bytes from stat; they are not read.
      const size = await stat(join(eventsDir(id), segmentName(firsts[i]!))).then((s) => s.size, () => 0);
      segments.push({ first: firsts[i]!, count: firsts[i + 1]! - firsts[i]!, bytes: size });
    }
    let events: SessionEvent[] = [];
    const take = (read: SegmentRead) => {
      if (read.restart) events = [];
      const expected = events.at(-1);
      const next = read.events[0];
      if (expected && next && next.seq !== expected.seq + 1) {
        problems.push(`${read.path}: starts at seq ${next.seq}, expected ${expected.seq + 1}; the events before it are not served`);
        events = [];
      }
      for (const event of read.events) if (event.seq >= from) events.push(event);
      segments.push({ first: read.first, count: read.count, bytes: read.bytes });
    };
    for (let i = start; i < firsts.length - 1; i++) take(await readSegment(id, firsts[i]!, false, maxEvents, problems));
    take(last);
    return { events: events.slice(-maxEvents), state: { segments, lastSeq } };
  }

  /**
   * One segment, line by line (never the whole file in one string). A torn
   * last line of the last segment is cut off; a bad line elsewhere is a
   * problem, and only the contiguous events after it count.
   */
  async function readSegment(id: string, first: number, isLast: boolean, maxEvents: number, problems: string[]): Promise<SegmentRead> {
    const path = join(eventsDir(id), segmentName(first));
    const size = (await stat(path)).size;
    const read: SegmentRead = { path, first, events: [], count: 0, bytes: 0, restart: false };
    let lineNo = 0;
    let expected: number | undefined;
    let torn = false;
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lineNo++;
      const lineBytes = Buffer.byteLength(line) + 1;
      // No newline after it: the write was cut by a crash and never acknowledged.
      if (isLast && read.bytes + lineBytes > size) {
        torn = true;
        break;
      }
      read.bytes += lineBytes;
      read.count++;
      let event: SessionEvent | undefined;
      try {
        event = JSON.parse(line) as SessionEvent;
      } catch {
        event = undefined;
      }
      if (!event || typeof event.seq !== 'number') {
        problems.push(`${path}:${lineNo}: corrupt line; the events before it are not served`);
        read.events = [];
        read.restart = true;
        expected = undefined;
        continue;
      }
      if (expected !== undefined && event.seq !== expected) {
        problems.push(`${path}:${lineNo}: expected seq ${expected}, found ${event.seq}; the events before it are not served`);
        read.events = [];
        read.restart = true;
      }
      expected = event.seq + 1;
      read.events.push(event);
      // Only the newest maxEvents can be served: memory stays bounded however long the segment (a migrated log).
      if (read.events.length >= maxEvents * 2) read.events = read.events.slice(-maxEvents);
    }
    lines.close();
    // Cut the torn tail so the next append starts on a clean line.
    if (torn) await truncate(path, read.bytes);
    return read;
  }

  async function writeLines(path: string, text: string, created: boolean): Promise<void> {
    const handle = await open(path, 'a', 0o644);
    try {
      await handle.write(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    if (created) await syncDir(join(path, '..'));
  }

  async function isExpired(id: string): Promise<boolean> {
    if (ttlMs === Number.POSITIVE_INFINITY) return false;
    let newest = 0;
    for (const path of [join(sessionDir(id), RECORD), ...(await listSegments(id)).slice(-1).map((first) => join(eventsDir(id), segmentName(first)))]) {
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
          // A crash between "write temp" and "rename" leaves a temp file; the previous record stands (F10).
          if (isAtomicTempFile(name)) await unlink(join(sessionDir(sessionId), name)).catch(() => {});
        }
        const turns: TurnRecord[] = [];
        for (const name of await readdir(turnsDir(sessionId)).catch(() => [] as string[])) {
          const path = join(turnsDir(sessionId), name);
          if (isAtomicTempFile(name)) {
            await unlink(path).catch(() => {});
            continue;
          }
          try {
            turns.push(JSON.parse(await readFile(path, 'utf8')) as TurnRecord);
          } catch (error) {
            problems.push(`${path}: unreadable turn record (${errorText(error)}); skipped`);
          }
        }
        const { events, state } = await readLog(sessionId, maxEvents, problems);
        logs.set(sessionId, state);
        return problems.length > 0 ? { record, turns, events, problems } : { record, turns, events };
      });
    },

    appendEvents(sessionId: string, events: readonly SessionEvent[], { maxEvents }: AppendOptions): Promise<void> {
      return serial(sessionId, async () => {
        await ensureOpen();
        const state = await logState(sessionId, maxEvents);
        // Idempotent by seq: a retried append after an unknown outcome writes nothing twice.
        const fresh = events.filter((event) => event.seq > state.lastSeq);
        if (fresh.length === 0) return;
        const size = segmentSize(maxEvents);
        let i = 0;
        while (i < fresh.length) {
          let current = state.segments.at(-1);
          let created = false;
          if (!current || current.count >= size) {
            current = { first: fresh[i]!.seq, count: 0, bytes: 0 };
            state.segments.push(current);
            created = true;
          }
          const take = fresh.slice(i, i + (size - current.count));
          const text = take.map((event) => `${JSON.stringify(event)}\n`).join('');
          try {
            await writeLines(join(eventsDir(sessionId), segmentName(current.first)), text, created);
          } catch (error) {
            // The segment may hold part of `text`: forget what we know so the next call re-reads the disk.
            logs.delete(sessionId);
            throw error;
          }
          current.count += take.length;
          current.bytes += Buffer.byteLength(text);
          state.lastSeq = take.at(-1)!.seq;
          i += take.length;
        }
        // Retention: drop whole segments while what is left still holds `maxEvents`.
        let held = state.segments.reduce((sum, segment) => sum + segment.count, 0);
        while (state.segments.length > 1 && held - state.segments[0]!.count >= maxEvents) {
          const oldest = state.segments.shift()!;
          held -= oldest.count;
          await unlink(join(eventsDir(sessionId), segmentName(oldest.first))).catch((error: unknown) => {
            if (!isMissing(error)) throw error;
          });
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

/** The `seq` of a JSONL file's first line, read alone (never the whole file). */
async function firstSeqOf(path: string): Promise<number | undefined> {
  try {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lines.close();
      const seq = (JSON.parse(line) as { seq?: unknown }).seq;
      return typeof seq === 'number' ? seq : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}
