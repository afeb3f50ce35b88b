/** The WebSocket host: one client's multiplexed socket, its commands run by the dispatcher, its subscriptions pumped from the log. */
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { closeCodes } from '../../protocol/index.js';
import { FrameSession } from '../commands/frame-session.js';
import type { CursorBatch, EventCursor } from '../core/event-cursor.js';
import { waitAtMost } from '../../internal/clock.js';
import { every, type Connection, type HostContext } from './context.js';
import { WriteBudget } from './write-budget.js';
import { PeerLiveness } from './peer-liveness.js';
import { pump } from './pump.js';
import { requestUrl } from './request-url.js';
import { limitKey } from '../limits/client-key.js';
import type { Caller } from '../security/principal.js';

interface Subscription {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * One client's multiplexed WebSocket: `welcome` first, then request frames
 * answered by `reply` (same `id`), and per subscribed session a pump from the
 * log with backpressure on the socket's buffer (F6). Bad frames close the
 * socket: 1007 not JSON (or binary), 1008 not a valid client frame, 1009 too
 * big (ws `maxPayload`). Shutdown flushes, then closes with 1001 (F7).
 *
 * Every byte written counts against the write budget — events, replies and
 * pongs (protocol pings are answered here, not by `ws`). While that budget
 * is full the socket's input is not read; a peer whose unread output passes
 * `maxBufferedBytes`, or stays stuck through two heartbeats, is closed with
 * 1013 and cut, never buffered without end. Commands pass the client's
 * limits first (429 reply).
 */
export function serveWebSocket(ctx: HostContext, ws: WebSocket, req: IncomingMessage, caller: Caller = {}): void {
  const url = requestUrl(req.url);
  const header = req.headers['x-tether-client'];
  // A label only (a proxy's header wins over the URL); with authentication the principal acts.
  const clientId = (typeof header === 'string' && header) || url.searchParams.get('clientId') || globalThis.crypto.randomUUID();
  const { clock, heartbeatMs, highWaterBytes, maxBufferedBytes, maxBatchEvents, logger } = ctx.options;
  const key = limitKey(caller, req.socket.remoteAddress);
  const budget = new WriteBudget(highWaterBytes, maxBufferedBytes);
  const subscriptions = new Map<string, Subscription>();
  let closed = false;
  // The socket belongs to the heartbeat now, not to the HTTP server's idle timeout.
  req.socket.setTimeout(0);

  // Input backpressure: while the peer's unread output is at the high-water mark, its
  // frames (each of which may ask for more output) are not read; reading resumes once half
  // of it drained. A slow reader's commands wait; a peer that never reads stops costing CPU.
  let inputPaused = false;
  const throttleInput = () => {
    if (inputPaused || !budget.full || ws.readyState !== ws.OPEN) return;
    inputPaused = true;
    ws.pause();
    void budget.drained().then(() => {
      inputPaused = false;
      if (ws.readyState === ws.OPEN) ws.resume();
    });
  };
  const send = (frame: string) => {
    if (ws.readyState !== ws.OPEN) return;
    const done = budget.add(Buffer.byteLength(frame));
    ws.send(frame, () => done());
    throttleInput();
  };
  // Close with 1013 (reconnect and resume from the cursor); a peer that does not answer
  // the close frame soon (it does not read, or it is stalled) is cut, so no close timer lingers.
  const closeToResume = (reason: string) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.close(closeCodes.tryAgainLater, reason);
    const cut = clock.setTimeout(() => ws.terminate(), Math.min(1000, heartbeatMs));
    ws.once('close', () => clock.clearTimeout(cut));
  };
  // The peer does not read what it is sent: close with 1013 instead of buffering.
  let gaveUp = false;
  const giveUp = () => {
    if (gaveUp) return;
    gaveUp = true;
    ctx.limits.overflowed();
    logger.warn?.({ connection: connection.id, clientId, bufferedBytes: budget.pending }, 'agent-tether: websocket not reading its output; closed');
    closeToResume('output not read');
  };
  budget.onOverflow = giveUp;
  // Liveness (see PeerLiveness): a pong, a message frame or flushed bytes prove the peer is
  // there; protocol pings alone do not. Two silent heartbeats end the connection: 1013 and
  // counted when the peer stopped reading its output, a plain cut when it is half-open (F10).
  const liveness = new PeerLiveness();
  ws.on('ping', (data: Buffer) => {
    liveness.heard();
    if (ws.readyState !== ws.OPEN) return;
    const done = budget.add(data.length + 2);
    ws.pong(data, undefined, () => done());
    throttleInput();
  });
  budget.onProgress = () => liveness.seen();
  const heartbeat = every(clock, heartbeatMs, () => {
    const verdict = liveness.tick(budget.full || inputPaused);
    if (verdict === 'not-reading' || verdict === 'half-open') {
      if (verdict === 'not-reading') giveUp();
      ws.terminate();
      return;
    }
    try {
      ws.ping();
    } catch {
      // the socket is closing; 'close' cleans up
    }
  });
  ws.on('pong', () => liveness.seen());

  const stopSubscription = (sessionId: string) => {
    const existing = subscriptions.get(sessionId);
    if (!existing) return;
    existing.controller.abort();
    subscriptions.delete(sessionId);
  };

  const connection: Connection = {
    id: ctx.nextConnectionId(),
    kind: 'websocket',
    clientId,
    budget,
    subscriptionCount: () => subscriptions.size,
    shutdown: async (deadline) => {
      // Logs are closed: each pump ends once it handed over its tail (F7).
      await waitAtMost(clock, Promise.all([...subscriptions.values()].map((s) => s.done)), deadline - clock.now());
      await waitAtMost(clock, budget.idle(), deadline - clock.now());
      if (ws.readyState === ws.OPEN) ws.close(closeCodes.goingAway, 'server shutting down');
      const closedPromise = new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) resolve();
        else ws.once('close', () => resolve());
      });
      await waitAtMost(clock, closedPromise, deadline - clock.now());
      if (ws.readyState !== ws.CLOSED) {
        ws.terminate();
        await waitAtMost(clock, closedPromise, 1000);
      }
    },
  };
  ctx.connections.add(connection);
  const opened = clock.now();
  logger.info?.({ connection: connection.id, clientId }, 'agent-tether: websocket open');

  ws.on('close', (code: number) => {
    logger.info?.({ connection: connection.id, clientId, code, ms: clock.now() - opened }, 'agent-tether: websocket closed');
    closed = true;
    heartbeat.stop();
    for (const sessionId of [...subscriptions.keys()]) stopSubscription(sessionId);
    budget.close();
    ctx.connections.delete(connection);
  });
  ws.on('error', (error) => {
    // ws closes the socket itself (e.g. 1009 for maxPayload); nothing may throw here.
    logger.debug?.({ err: error }, 'agent-tether: websocket error');
  });

  const frames = new FrameSession(ctx.dispatcher, clientId, {
    send,
    close: (code, reason) => ws.close(code, reason),
    isOpen: () => !closed,
    startStream: (sessionId, cursor) => {
      stopSubscription(sessionId);
      subscribe(sessionId, cursor);
    },
    stopStream: stopSubscription,
    run: async (command) => {
      await ctx.limits.admit(command, key);
      return ctx.dispatcher.run(command, 'frame');
    },
    maxJsonDepth: ctx.options.maxJsonDepth,
  }, caller);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    liveness.seen();
    if (closed) return;
    void frames.receive(isBinary ? undefined : rawToString(data));
  });

  function subscribe(sessionId: string, cursor: EventCursor): void {
    const controller = new AbortController();
    const sessionJson = JSON.stringify(sessionId);
    const sendBatch = (batch: CursorBatch) => {
      if (batch.reset) send(JSON.stringify({ type: 'reset', ...batch.reset }));
      if (batch.entries.length > 0) {
        let text = `{"type":"events","sessionId":${sessionJson},"events":[`;
        for (let i = 0; i < batch.entries.length; i++) text += (i === 0 ? '' : ',') + batch.entries[i]!.json;
        send(`${text}]}`);
      }
    };
    const done = pump({
      cursor,
      budget,
      signal: controller.signal,
      maxEvents: maxBatchEvents,
      maxBytes: ctx.batchBytes,
      share: ctx.share,
      send: sendBatch,
    }).then(
      () => {
        // The log closed outside a shutdown (evicted, moved, store unreachable): this
        // subscription would get nothing more while the socket looks healthy. Close with 1013,
        // so the client reconnects and resubscribes every session from its cursor (F8).
        if (controller.signal.aborted || ctx.isClosing() || closed || subscriptions.get(sessionId)?.controller !== controller) return;
        closeToResume('session stream ended; resubscribe');
      },
      (error: unknown) => logger.error?.({ err: error }, 'agent-tether: websocket stream failed'),
    );
    subscriptions.set(sessionId, { controller, done });
  }

  send(JSON.stringify({ type: 'welcome', clientId, heartbeatMs }));
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
