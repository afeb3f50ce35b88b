/** The segmented JSONL event log of one fileStore session: reading the retained tail line by line, appending, trimming whole segments. */
import { createReadStream } from 'node:fs';
import { open, readdir, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SessionEvent } from '../../protocol/index.js';
import { atomicWriteFile, syncDir } from '../../internal/atomic-write.js';

const SEGMENT_SUFFIX = '.jsonl';

/** One segment file: the `seq` of its first event, how many events and bytes it holds. */
export interface Segment {
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
export interface LogState {
  segments: Segment[];
  lastSeq: number;
}

/** Events per segment: an eighth of the retention, so trimming deletes whole files and holds at most 1/8 extra. */
export function segmentSize(maxEvents: number): number {
  return Math.max(16, Math.ceil(maxEvents / 8));
}

/** A segment's file name: its first `seq`, zero-padded so names sort in `seq` order. */
export const segmentName = (first: number) => `${String(first).padStart(16, '0')}${SEGMENT_SUFFIX}`;

/** The first `seq`s of the segments on disk, oldest first. */
export async function listSegments(eventsDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(eventsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => name.endsWith(SEGMENT_SUFFIX))
    .map((name) => Number(name.slice(0, -SEGMENT_SUFFIX.length)))
    .filter((first) => Number.isSafeInteger(first) && first > 0)
    .sort((a, b) => a - b);
}

/** Stream the segments holding the newest `maxEvents` events; the retained tail and what this process must know to append. */
export async function readLog(eventsDir: string, maxEvents: number, problems: string[]): Promise<{ events: SessionEvent[]; state: LogState }> {
  const firsts = await listSegments(eventsDir);
  if (firsts.length === 0) return { events: [], state: { segments: [], lastSeq: 0 } };
  // The last segment first: its end is the log's end, which says exactly which older segments hold the tail.
  const last = await readSegment(eventsDir, firsts.at(-1)!, true, maxEvents, problems);
  const lastSeq = last.events.at(-1)?.seq ?? firsts.at(-1)! - 1;
  const from = lastSeq - maxEvents + 1;
  let start = firsts.length - 1;
  while (start > 0 && firsts[start]! > from) start--;
  const segments: Segment[] = [];
  for (let i = 0; i < start; i++) {
    // Segments before the tail: counts follow from the names, bytes from stat; they are not read.
    const size = await stat(join(eventsDir, segmentName(firsts[i]!))).then((s) => s.size, () => 0);
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
  for (let i = start; i < firsts.length - 1; i++) take(await readSegment(eventsDir, firsts[i]!, false, maxEvents, problems));
  take(last);
  return { events: events.slice(-maxEvents), state: { segments, lastSeq } };
}

/**
 * One segment, line by line (never the whole file in one string). A torn
 * last line of the last segment is cut off; a bad line elsewhere is a
 * problem, and only the contiguous events after it count.
 */
async function readSegment(eventsDir: string, first: number, isLast: boolean, maxEvents: number, problems: string[]): Promise<SegmentRead> {
  const path = join(eventsDir, segmentName(first));
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

/**
 * Append `events` (newer than `state.lastSeq`) to the log in `eventsDir`,
 * fsync'd, rolling to a new segment every {@link segmentSize} events, then
 * delete whole old segments while what is left still holds `maxEvents`.
 * On a failed write `state` may be stale: the caller forgets it.
 */
export async function appendToLog(eventsDir: string, state: LogState, events: readonly SessionEvent[], maxEvents: number): Promise<void> {
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
    await writeLines(join(eventsDir, segmentName(current.first)), text, created);
    current.count += take.length;
    current.bytes += Buffer.byteLength(text);
    state.lastSeq = take.at(-1)!.seq;
    i += take.length;
  }
  let held = state.segments.reduce((sum, segment) => sum + segment.count, 0);
  while (state.segments.length > 1 && held - state.segments[0]!.count >= maxEvents) {
    const oldest = state.segments.shift()!;
    held -= oldest.count;
    await unlink(join(eventsDir, segmentName(oldest.first))).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException)?.code !== 'ENOENT') throw error;
    });
  }
}

/**
 * A segment holding more than the retention (a log migrated from the previous
 * one-file layout) is read whole at every load until appends trim it. Rewrite
 * the retained events it holds as a segment of their own and delete it, so
 * the disk and the next restart hold only the tail. `events` is the retained
 * tail as {@link readLog} returned it, read without problems. A crash between
 * the rename and the unlink is harmless: the new segment starts at the tail,
 * so the next load does not read the old one and the next append deletes it.
 */
export async function compactOversized(eventsDir: string, state: LogState, events: readonly SessionEvent[], maxEvents: number): Promise<void> {
  const index = state.segments.findIndex((segment) => segment.count > maxEvents);
  if (index < 0 || events.length === 0) return;
  const old = state.segments[index]!;
  const end = state.segments[index + 1]?.first ?? state.lastSeq + 1;
  const kept = events.filter((event) => event.seq < end);
  // Only a contiguous tail that starts inside the old segment replaces it.
  if (kept.length === 0 || kept[0]!.seq <= old.first || kept.at(-1)!.seq !== end - 1) return;
  const text = kept.map((event) => `${JSON.stringify(event)}\n`).join('');
  await atomicWriteFile(join(eventsDir, segmentName(kept[0]!.seq)), text);
  await unlink(join(eventsDir, segmentName(old.first)));
  await syncDir(eventsDir);
  state.segments.splice(index, 1, { first: kept[0]!.seq, count: kept.length, bytes: Buffer.byteLength(text) });
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

/** The `seq` of a JSONL file's first line, read alone (never the whole file). */
export async function firstSeqOf(path: string): Promise<number | undefined> {
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

