import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { closeCodes, type ClientFrame as ClientFrameType, type ErrorInfo } from '../../protocol/index.js';
import type { CursorBatch } from '../core/event-cursor.js';
import { ServerError } from '../core/server-error.js';
import { decodeClientFrame } from '../core/request-input.js';
import { every, within, type Connection, type HostContext } from './context.js';
import { Outbound } from './outbound.js';
import { pump } from './pump.js';
import { requestUrl } from './request-url.js';

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
 */
export function serveWebSocket(ctx: HostContext, ws: WebSocket, req: IncomingMessage): void {
  const url = requestUrl(req.url);
  const header = req.headers['x-tether-client'];
  const clientId = url.searchParams.get('clientId') || (typeof header === 'string' && header) || globalThis.crypto.randomUUID();
  const { clock, heartbeatMs, highWaterBytes, maxBatchEvents, logger } = ctx.options;
  const outbound = new Outbound(highWaterBytes);
  const subscriptions = new Map<string, Subscription>();
  let closed = false;

  const send = (frame: string) => {
    if (ws.readyState !== ws.OPEN) return;
    const done = outbound.add(Buffer.byteLength(frame));
    ws.send(frame, () => done());
  };
  const reply = (id: string, result: unknown) => send(JSON.stringify({ type: 'reply', id, ok: true, result }));
  const replyError = (id: string, error: ErrorInfo) => send(JSON.stringify({ type: 'reply', id, ok: false, error }));

  // Liveness: a pong, an incoming frame or flushed bytes prove the peer is there.
  // Two silent periods in a row mean a half-open socket; a slow reader that still
  // drains is never cut (F6).
  let alive = true;
  let missed = 0;
  outbound.onProgress = () => {
    alive = true;
  };
  const heartbeat = every(clock, heartbeatMs, () => {
    if (alive) missed = 0;
    else if (++missed >= 2) {
      ws.terminate();
      return;
    }
    alive = false;
    try {
      ws.ping();
    } catch {
      // the socket is closing; 'close' cleans up
    }
  });
  ws.on('pong', () => {
    alive = true;
  });

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
    outbound,
    subscriptionCount: () => subscriptions.size,
    shutdown: async (deadline) => {
      // Logs are closed: each pump ends once it handed over its tail (F7).
      await within(clock, deadline - clock.now(), Promise.all([...subscriptions.values()].map((s) => s.done)));
      await within(clock, deadline - clock.now(), outbound.idle());
      if (ws.readyState === ws.OPEN) ws.close(closeCodes.goingAway, 'server shutting down');
      const closedPromise = new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) resolve();
        else ws.once('close', () => resolve());
      });
      await within(clock, deadline - clock.now(), closedPromise);
      if (ws.readyState !== ws.CLOSED) {
        ws.terminate();
        await within(clock, 1000, closedPromise);
      }
    },
  };
  ctx.connections.add(connection);

  ws.on('close', () => {
    closed = true;
    heartbeat.stop();
    for (const sessionId of [...subscriptions.keys()]) stopSubscription(sessionId);
    outbound.close();
    ctx.connections.delete(connection);
  });
  ws.on('error', (error) => {
    // ws closes the socket itself (e.g. 1009 for maxPayload); nothing may throw here.
    logger.debug?.({ err: error }, 'agent-tether: websocket error');
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    alive = true;
    if (closed) return;
    const decoded = decodeClientFrame(isBinary ? undefined : rawToString(data));
    if ('close' in decoded) {
      ws.close(decoded.close, decoded.reason);
      return;
    }
    const frame = decoded.frame;
    try {
      handle(frame);
    } catch (error) {
      const id = 'id' in frame ? frame.id : undefined;
      const info =
        error instanceof ServerError
          ? error.toInfo()
          : { code: 'internal_error', message: 'The server failed to handle the frame', status: 500 };
      if (!(error instanceof ServerError)) logger.error?.({ err: error }, 'agent-tether: websocket frame failed');
      if (id !== undefined) replyError(id, info);
    }
  });

  function handle(frame: ClientFrameType): void {
    switch (frame.type) {
      case 'ping':
        send(JSON.stringify(frame.time === undefined ? { type: 'pong' } : { type: 'pong', time: frame.time }));
        return;
      case 'subscribe': {
        const from = frame.epoch === undefined ? { after: frame.after ?? 0 } : { after: frame.after ?? 0, epoch: frame.epoch };
        const cursor = ctx.core.cursor(frame.sessionId, from);
        if (!cursor) throw new ServerError('session_not_found', `Unknown session: ${frame.sessionId}`, 404);
        stopSubscription(frame.sessionId);
        reply(frame.id, { epoch: cursor.log.epoch, seq: cursor.log.seq });
        const controller = new AbortController();
        const sessionJson = JSON.stringify(frame.sessionId);
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
          outbound,
          signal: controller.signal,
          maxEvents: maxBatchEvents,
          maxBytes: ctx.batchBytes,
          send: sendBatch,
        }).catch((error: unknown) => logger.error?.({ err: error }, 'agent-tether: websocket stream failed'));
        subscriptions.set(frame.sessionId, { controller, done });
        return;
      }
      case 'unsubscribe':
        stopSubscription(frame.sessionId);
        reply(frame.id, {});
        return;
      case 'prompt': {
        const result = ctx.core.prompt(frame.sessionId, {
          prompt: frame.prompt,
          clientId,
          ...(frame.idempotencyKey === undefined ? {} : { idempotencyKey: frame.idempotencyKey }),
        });
        const acknowledge = () => reply(frame.id, { turn: result.turn });
        if (result.created) void ctx.core.durable(frame.sessionId, result.turn.queuedSeq).then(acknowledge, acknowledge);
        else acknowledge();
        return;
      }
      case 'cancel': {
        const result = ctx.core.cancel(frame.sessionId, frame.turnId, {
          clientId,
          ...(frame.reason === undefined ? {} : { reason: frame.reason }),
        });
        if (!result) throw new ServerError('not_found', `Unknown turn: ${frame.turnId}`, 404);
        reply(frame.id, result);
        return;
      }
    }
  }

  send(JSON.stringify({ type: 'welcome', clientId, heartbeatMs }));
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
