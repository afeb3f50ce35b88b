/** The SSE host: a session's events as `text/event-stream`, with heartbeats, backpressure and graceful shutdown. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CursorBatch, EventCursor } from '../core/event-cursor.js';
import { waitAtMost } from '../../internal/clock.js';
import { every, type Connection, type HostContext } from './context.js';
import { WriteBudget } from './write-budget.js';
import { pump } from './pump.js';
import { SHARED_FRAME_BYTES, sharedFrame } from './sse-frame.js';
import { requestUrl } from './request-url.js';

/**
 * `GET /v1/sessions/:sid/events`: the session's events as Server-Sent Events,
 * from the cursor the dispatcher's `subscribe` opened (`Last-Event-ID` wins
 * over `after`), then live. Writes
 * `retry:` first, `: ping` every `heartbeatMs`, `event: reset` when the
 * cursor cannot be honoured. Backpressure (F6) via `res.write` callbacks;
 * unread output past `maxBufferedBytes` destroys the socket.
 */
export function serveSse(ctx: HostContext, req: IncomingMessage, res: ServerResponse, cursor: EventCursor, cors: Readonly<Record<string, string>> = {}): void {
  const url = requestUrl(req.url);

  const { clock, heartbeatMs, sseRetryMs, highWaterBytes, maxBufferedBytes, maxBatchEvents } = ctx.options;
  const budget = new WriteBudget(highWaterBytes, maxBufferedBytes);
  budget.onOverflow = () => {
    // Unread output past the hard limit: give the socket up rather than buffer (the client resumes by Last-Event-ID).
    ctx.limits.overflowed();
    ctx.options.logger.warn?.({ bufferedBytes: budget.pending }, 'agent-tether: SSE client not reading its output; closed');
    res.destroy();
  };
  const controller = new AbortController();
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    ...cors,
  });

  const write = (text: string) => {
    if (res.destroyed || res.writableEnded) return;
    const done = budget.add(Buffer.byteLength(text));
    res.write(text, () => done());
  };
  const writeFrame = (frame: Buffer) => {
    if (res.destroyed || res.writableEnded) return;
    const done = budget.add(frame.length);
    res.write(frame, () => done());
  };
  write(`retry: ${sseRetryMs}\n\n`);

  const heartbeat = every(clock, heartbeatMs, () => {
    // A full buffer already proves nothing new can get through; skip the ping.
    if (!budget.full) write(': ping\n\n');
  });

  const connection: Connection = {
    id: ctx.nextConnectionId(),
    kind: 'sse',
    clientId: typeof req.headers['x-tether-client'] === 'string' ? req.headers['x-tether-client'] : url.searchParams.get('clientId') ?? undefined,
    budget,
    subscriptionCount: () => (controller.signal.aborted ? 0 : 1),
    shutdown: async (deadline) => {
      // The log is closed: the pump ends once everything was written; then flush and end.
      await waitAtMost(clock, pumped, deadline - clock.now());
      await waitAtMost(clock, budget.idle(), deadline - clock.now());
      finish();
    },
  };

  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    controller.abort();
    heartbeat.stop();
    budget.close();
    ctx.connections.delete(connection);
    if (!res.writableEnded && !res.destroyed) res.end();
  };
  ctx.connections.add(connection);
  res.on('close', finish);

  const send = (batch: CursorBatch) => {
    let text = '';
    if (batch.reset) text += `event: reset\ndata: ${JSON.stringify(batch.reset)}\n\n`;
    for (const entry of batch.entries) {
      if (entry.bytes < SHARED_FRAME_BYTES) {
        text += `id: ${entry.event.seq}\ndata: ${entry.json}\n\n`;
        continue;
      }
      if (text) write(text);
      text = '';
      writeFrame(sharedFrame(entry));
    }
    if (text) write(text);
  };
  const pumped = pump({
    cursor,
    budget,
    signal: controller.signal,
    maxEvents: maxBatchEvents,
    maxBytes: ctx.batchBytes,
    share: ctx.share,
    send,
  }).then(
    () => {
      // The log closed outside a shutdown (the session was evicted or moved, or its store is
      // unreachable): end the response, so the client backs off and resumes from its cursor
      // instead of listening to heartbeats on a stream that gets no more events (F8).
      if (!ctx.isClosing()) finish();
    },
    (error: unknown) => {
      ctx.options.logger.error?.({ err: error }, 'agent-tether: SSE stream failed');
      finish();
    },
  );
}
