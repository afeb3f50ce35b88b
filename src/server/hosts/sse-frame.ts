/** SSE frames of big events, encoded once and shared by every stream that sends them. */
import type { LogEntry } from '../core/session-log.js';

/** Events at least this big (UTF-8 bytes of their JSON) go out as one shared, pre-encoded frame. */
export const SHARED_FRAME_BYTES = 16 * 1024;

/**
 * Bytes of frames kept for reuse, across every stream of the process. A fan-out
 * sends an event to all its streams within moments, so a few recent frames
 * suffice; a frame bigger than this is built per stream and not kept.
 */
const KEPT_BYTES = 16 * 1024 * 1024;
const frames = new Map<LogEntry, Buffer>();
let keptBytes = 0;

/**
 * The `id:`/`data:` frame of one log entry as bytes, built on first use and
 * kept among the most recent ones (at most {@link KEPT_BYTES} in all). A big
 * event fanned out to many streams (a 1 MB prompt in `turn.queued`, read by 128
 * subscribers) is then encoded once instead of once per stream, and every
 * stalled stream's buffer holds the same bytes rather than a copy of its own:
 * the CPU and memory a crowd of slow readers costs stays near that of one (F6).
 */
export function sharedFrame(entry: LogEntry): Buffer {
  const kept = frames.get(entry);
  if (kept) return kept;
  const frame = Buffer.from(`id: ${entry.event.seq}\ndata: ${entry.json}\n\n`, 'utf8');
  if (frame.length > KEPT_BYTES) return frame;
  frames.set(entry, frame);
  keptBytes += frame.length;
  for (const [oldEntry, oldFrame] of frames) {
    if (keptBytes <= KEPT_BYTES) break;
    frames.delete(oldEntry);
    keptBytes -= oldFrame.length;
  }
  return frame;
}
