/** SSE frames of big events, encoded once and shared by every stream that sends them. */
import type { LogEntry } from '../core/session-log.js';

/** Events at least this big (UTF-8 bytes of their JSON) go out as one shared, pre-encoded frame. */
export const SHARED_FRAME_BYTES = 16 * 1024;

const frames = new WeakMap<LogEntry, Buffer>();

/**
 * The `id:`/`data:` frame of one log entry as bytes, built on first use and
 * kept as long as the entry is. A big event fanned out to many streams (a 1 MB
 * prompt in `turn.queued`, read by 128 subscribers) is then encoded once
 * instead of once per stream, and every stalled stream's buffer holds the same
 * bytes rather than a copy of its own — the CPU and memory a crowd of slow
 * readers costs stays that of one (F6).
 */
export function sharedFrame(entry: LogEntry): Buffer {
  let frame = frames.get(entry);
  if (!frame) {
    frame = Buffer.from(`id: ${entry.event.seq}\ndata: ${entry.json}\n\n`, 'utf8');
    frames.set(entry, frame);
  }
  return frame;
}
