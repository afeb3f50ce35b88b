// A refused WebSocket upgrade is answered before the socket opens, with the
// protocol's JSON error and its headers, like any HTTP reply.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createServer, memoryStore } from '../../src/server.js';
import { onTeardown, scriptedAgent } from './helpers.js';

/** Sends an upgrade request for `path` on `socket` and reads the reply until the server closes. */
function upgrade(socket: import('node:net').Socket, path: string): Promise<{ status: number; headers: string; body: any }> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) });
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
  });
}

async function dial(port: number) {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  onTeardown(() => socket.destroy());
  return socket;
}

describe('WebSocket upgrade refusals', () => {
  it('another path: 404 not_found as JSON', async () => {
    const server = createServer({ agent: scriptedAgent().agent, logger: {} });
    const { port } = await server.listen(0, '127.0.0.1');
    onTeardown(() => server.close());
    const reply = await upgrade(await dial(port), '/v1/sessions');
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ error: { code: 'not_found', status: 404 } });
  });

  it('while the server shuts down: 503 shutting_down with Retry-After', async () => {
    let release!: () => void;
    const storeClosed = new Promise<void>((resolve) => (release = resolve));
    // A store that takes its time to close keeps the server in its shutdown.
    const store = { ...memoryStore(), close: () => storeClosed };
    const server = createServer({ agent: scriptedAgent().agent, logger: {}, store, shutdownTimeoutMs: 30_000 });
    const { port } = await server.listen(0, '127.0.0.1');
    const socket = await dial(port); // connected before the listener closes
    const closed = server.close();
    onTeardown(async () => {
      release();
      await closed;
    });
    const reply = await upgrade(socket, '/v1/ws');
    expect(reply.status).toBe(503);
    expect(reply.headers).toMatch(/\r\nRetry-After: 1\r\n/i);
    expect(reply.body).toMatchObject({ error: { code: 'shutting_down', status: 503 } });
  });
});
