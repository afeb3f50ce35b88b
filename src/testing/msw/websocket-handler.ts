/** The msw WebSocket handler (`ws.link`): the protocol's multiplexed socket, commands answered by the reference server's dispatcher. */
import type { WebSocketHandler } from 'msw';
import { closeCodes } from '../../protocol/index.js';
import { FrameSession } from '../../server/commands/frame-session.js';
import { MSW_HANDLERS_DEFAULTS } from './msw-options.js';
import type { MswHost } from './msw-host.js';
import { mswModule } from './msw-module.js';
import { streamEvents } from './stream-events.js';
import { randomId } from '../../internal/random-id.js';
import type { Caller } from '../../server/security/principal.js';

/** Close code of a socket whose credentials were refused (the real server answers the upgrade with HTTP 401 instead). */
const UNAUTHORIZED_CLOSE = 4401;

/**
 * Serves `<base>/v1/ws` in memory: `welcome`, then request frames answered by
 * `reply` frames, and per subscribed session its events; the drop fault
 * closes the socket with 1006, `refuseWebSocket` closes it before `welcome`.
 */
export function websocketHandler(host: MswHost, wsUrl: string): WebSocketHandler {
  const { ws } = mswModule();
  return ws.link(wsUrl).addEventListener('connection', ({ client, info }) => {
    const clientId = client.url.searchParams.get('clientId') || randomId();
    const subscriptions = new Map<string, AbortController>();
    const connection = new AbortController();
    host.streams.add(connection);
    let open = true;
    const send = (frame: string) => {
      if (open) client.send(frame);
    };
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
    const offered = info.protocols === undefined ? [] : Array.isArray(info.protocols) ? info.protocols : [info.protocols];
    const authenticated = host.dispatcher
      .authenticate({
        method: 'GET',
        url: client.url.pathname + client.url.search,
        headers: offered.length === 0 ? {} : { 'sec-websocket-protocol': offered.join(', ') },
        remoteAddress: undefined,
      })
      .catch(() => {
        shut(UNAUTHORIZED_CLOSE, 'unauthorized');
        return undefined;
      });

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

    const frames = (caller: Caller) => new FrameSession(host.dispatcher, clientId, {
      send,
      close: shut,
      isOpen: () => open,
      startStream: subscribe,
      stopStream: (sessionId) => {
        subscriptions.get(sessionId)?.abort();
        subscriptions.delete(sessionId);
      },
      beforeCommand() {
        const injected = host.faults.takeFailure();
        if (injected) throw injected;
      },
    }, caller);
    const session = authenticated.then((caller) => (caller ? frames(caller) : undefined));
    client.addEventListener('message', (event) => {
      void Promise.all([host.started, session]).then(([, frameSession]) => {
        if (open && frameSession) return frameSession.receive(typeof event.data === 'string' ? event.data : undefined);
      });
    });
    void Promise.all([host.started, session]).then(([, frameSession]) => {
      if (frameSession) send(JSON.stringify({ type: 'welcome', clientId, heartbeatMs: host.heartbeatMs > 0 ? host.heartbeatMs : MSW_HANDLERS_DEFAULTS.heartbeatMs }));
    });
  });
}
