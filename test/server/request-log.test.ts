// One `info` line per HTTP request and per WebSocket open/close, in the
// pino shape ({fields}, message), so `--log-level info` shows what a server serves.
import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '../../src/server.js';
import { api, createSession, eventually, scriptedAgent, startServer, WsClient } from './helpers.js';

function recordingLogger(): { logger: Logger; lines: Array<{ fields: LogFields; message: string }> } {
  const lines: Array<{ fields: LogFields; message: string }> = [];
  return { lines, logger: { info: (fields, message) => lines.push({ fields, message }) } };
}

describe('request log', () => {
  it('logs each HTTP request once at info: method, path, status, ms', async () => {
    const { logger, lines } = recordingLogger();
    const { url } = await startServer({ agent: scriptedAgent().agent, logger });
    const sid = await createSession(url);
    await api(url, 'GET', '/v1/sessions/nope');
    await eventually(() => lines.length >= 2, 'two log lines');
    expect(lines).toEqual([
      { message: 'agent-tether: request', fields: { method: 'POST', path: '/v1/sessions', status: 201, ms: expect.any(Number) } },
      { message: 'agent-tether: request', fields: { method: 'GET', path: '/v1/sessions/nope', status: 404, ms: expect.any(Number) } },
    ]);
    expect(sid).toBeTypeOf('string');
  });

  it('logs a WebSocket connection when it opens and when it closes', async () => {
    const { logger, lines } = recordingLogger();
    const { url } = await startServer({ agent: scriptedAgent().agent, logger });
    const ws = new WsClient(url, 'watcher');
    await ws.welcomed();
    expect(lines).toEqual([{ message: 'agent-tether: websocket open', fields: { connection: expect.any(Number), clientId: 'watcher' } }]);
    ws.ws.close(1000);
    await eventually(() => lines.length === 2, 'the close line');
    expect(lines[1]).toEqual({
      message: 'agent-tether: websocket closed',
      fields: { connection: lines[0]!.fields.connection, clientId: 'watcher', code: 1000, ms: expect.any(Number) },
    });
  });

  it('logs a refused upgrade as a request', async () => {
    const { logger, lines } = recordingLogger();
    const { url } = await startServer({ agent: scriptedAgent().agent, logger });
    const ws = new WsClient(url.replace(/\/?$/, '/elsewhere'), 'watcher');
    await ws.until(() => ws.closed, 'refused');
    expect(lines).toEqual([{ message: 'agent-tether: request', fields: { method: 'GET', path: '/elsewhere/v1/ws', status: 404, ms: expect.any(Number) } }]);
  });
});
