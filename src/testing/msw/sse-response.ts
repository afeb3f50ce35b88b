/** An msw SSE response: a session's events from a cursor, as `text/event-stream`, with heartbeats and the stream faults. */
import type { EventCursor } from '../../server.js';
import type { MswHost } from './msw-host.js';
import { streamEvents } from './stream-events.js';

/**
 * The events of `cursor` as an SSE body: `retry:` first, `: ping` every
 * `heartbeatMs`, `event: reset` when the cursor cannot be honoured; the drop
 * fault errors the body mid-stream, as a cut connection would.
 */
export function sseResponse(host: MswHost, request: Request, cursor: EventCursor): Response {
  const controller = new AbortController();
  host.streams.add(controller);
  request.signal.addEventListener('abort', () => controller.abort(), { once: true });
  const encoder = new TextEncoder();
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(stream) {
      const write = (text: string) => {
        if (!controller.signal.aborted) stream.enqueue(encoder.encode(text));
      };
      write(`retry: ${host.sseRetryMs}\n\n`);
      if (host.heartbeatMs > 0) {
        heartbeat = setInterval(() => write(': ping\n\n'), host.heartbeatMs);
        // A stream the test forgot must not keep Node alive.
        (heartbeat as { unref?: () => void }).unref?.();
      }
      void streamEvents(cursor, host.faults, controller.signal, host.faults.dropBudget(), {
        reset: (reset) => write(`event: reset\ndata: ${JSON.stringify(reset)}\n\n`),
        events: (events) => write(events.map((e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join('')),
      }).then(async (outcome) => {
        clearInterval(heartbeat);
        host.streams.delete(controller);
        const canceled = request.signal.aborted;
        controller.abort();
        // Let the bytes already queued reach the client before the drop, as on a real network.
        if (outcome === 'dropped') await new Promise((resolve) => setTimeout(resolve, 5));
        try {
          if (outcome === 'dropped') stream.error(new TypeError('agent-tether/testing: stream dropped by dropStreamsAfter'));
          else if (!canceled) stream.close();
        } catch {
          // The reader already canceled the stream.
        }
      });
    },
    cancel() {
      clearInterval(heartbeat);
      controller.abort();
      host.streams.delete(controller);
    },
  });
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' } });
}
