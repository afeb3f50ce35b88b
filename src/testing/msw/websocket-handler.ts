/** The msw WebSocket handler (`ws.link`): the protocol's multiplexed socket, commands answered by the reference server's dispatcher. */
import type { WebSocketHandler } from 'msw';
import { closeCodes } from '../../protocol/index.js';
import type { CommandReply } from '../../server/commands/command.js';
import { commandOfFrame, subscribeFrameCommand } from '../../server/commands/frame-command.js';
import { decodeClientFrame } from '../../server/core/request-input.js';
import { LatestWins } from '../../server/hosts/latest-wins.js';
import { MSW_HANDLERS_DEFAULTS } from './msw-options.js';
import type { MswHost } from './msw-host.js';
import { mswModule } from './msw-module.js';
import { streamEvents } from './stream-events.js';

/**
 * Serves `<base>/v1/ws` in memory: `welcome`, then request frames answered by
 * `reply` frames, and per subscribed session its events; the drop fault
 * closes the socket with 1006, `refuseWebSocket` closes it before `welcome`.
 */
export function websocketHandler(host: MswHost, wsUrl: string): WebSocketHandler {
  const { ws } = mswModule();
  return ws.link(wsUrl).addEventListener('connection', ({ client }) => {
    const clientId = client.url.searchParams.get('clientId') || globalThis.crypto.randomUUID();
    const subscriptions = new Map<string, AbortController>();
    const latest = new LatestWins();
    const connection = new AbortController();
    host.streams.add(connection);
    let open = true;
    const send = (frame: string) => {
      if (open) client.send(frame);
    };
    const reply = (id: string, result: CommandReply) =>
      send(
        result.ok
          ? `{"type":"reply","id":${JSON.stringify(id)},"ok":true,"result":${result.json}}`
          : JSON.stringify({ type: 'reply', id, ok: false, error: result.error }),
      );
    const stopAll = () => {
      open = false;
      connection.abort();
      host.streams.delete(connection);
      for (const sub of subscriptions.values()) sub.abort();
    };
    const shut = (code: number, reason?: string) => {
      if (!open) return;
      stopAll();
      try {
        client.close(code, reason);
      } catch {
        client.close(closeCodes.internalError, reason);
      }
    };
    connection.signal.addEventListener('abort', () => shut(closeCodes.goingAway, 'server shutting down'), { once: true });
    client.addEventListener('close', stopAll);
    if (host.faults.refuseWebSocket) {
      shut(1006);
      return;
    }
    // The drop budget counts events over the whole socket, all subscriptions together.
    const budget = host.faults.dropBudget();

    const subscribe = (sessionId: string, cursor: Parameters<typeof streamEvents>[0]) => {
      subscriptions.get(sessionId)?.abort();
      const sub = new AbortController();
      subscriptions.set(sessionId, sub);
      const sessionJson = JSON.stringify(sessionId);
      void streamEvents(cursor, host.faults, sub.signal, budget, {
        reset: (reset) => send(JSON.stringify({ type: 'reset', ...reset })),
        events: (events) => send(`{"type":"events","sessionId":${sessionJson},"events":${JSON.stringify(events)}}`),
      }).then((outcome) => {
        if (outcome === 'dropped') shut(1006);
      });
    };

    client.addEventListener('message', (event) => {
      void (async () => {
        await host.started;
        if (!open) return;
        const decoded = decodeClientFrame(typeof event.data === 'string' ? event.data : undefined);
        if ('close' in decoded) return shut(decoded.close, decoded.reason);
        const frame = decoded.frame;
        if (frame.type === 'ping') return send(JSON.stringify(frame.time === undefined ? { type: 'pong' } : { type: 'pong', time: frame.time }));
        const injected = host.faults.takeFailure();
        if (injected) return reply(frame.id, host.dispatcher.fail(injected, 'frame'));
        switch (frame.type) {
          case 'unsubscribe':
            latest.take(frame.sessionId);
            subscriptions.get(frame.sessionId)?.abort();
            subscriptions.delete(frame.sessionId);
            return reply(frame.id, { ok: true, status: 200, json: '{}' });
          case 'subscribe': {
            const ticket = latest.take(frame.sessionId);
            const result = await host.dispatcher.run(subscribeFrameCommand(frame), 'frame');
            reply(frame.id, result);
            if (result.ok && result.cursor && open && latest.isCurrent(frame.sessionId, ticket)) subscribe(frame.sessionId, result.cursor);
            return;
          }
          default:
            return reply(frame.id, await host.dispatcher.run(commandOfFrame(frame, clientId), 'frame'));
        }
      })();
    });
    void host.started.then(() =>
      send(JSON.stringify({ type: 'welcome', clientId, heartbeatMs: host.heartbeatMs > 0 ? host.heartbeatMs : MSW_HANDLERS_DEFAULTS.heartbeatMs })),
    );
  });
}
