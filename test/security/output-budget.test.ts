/** Every byte written counts against a connection's budget: a peer that floods pings and never reads is closed, not buffered. */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSession, onTeardown, scriptedAgent, startServer, WsClient } from '../server/helpers.js';

const HIGH_WATER = 16 * 1024;
const MAX_BUFFERED = 64 * 1024;

/** A WebSocket client that never reads: its socket is paused, so the server's replies pile up. */
async function nonReadingSocket(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`);
  ws.on('error', () => {});
  onTeardown(() => ws.terminate());
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.pause();
  return { ws, closed };
}

/** Send until the server gives up (or `maxBytes` were sent: then the test fails on its assertions). */
async function flood(ws: WebSocket, closed: Promise<number>, sendOne: () => number, maxBytes: number, burst = 20): Promise<void> {
  let gone = false;
  void closed.then(() => (gone = true));
  let sent = 0;
  while (!gone && sent < maxBytes && ws.readyState === ws.OPEN) {
    // The server may stop reading us: then wait instead of growing our own buffer.
    if (ws.bufferedAmount < 1024 * 1024) for (let i = 0; i < burst; i++) sent += sendOne();
    await new Promise((resolve) => setTimeout(resolve, ws.bufferedAmount >= 1024 * 1024 ? 20 : 0));
  }
}

describe('output budget: pongs and replies count, non-readers are closed', () => {
  it('a protocol-level ping flood from a peer that never reads ends with the connection closed; the server buffered at most the cap plus one frame', async () => {
    const { server, url } = await startServer({ agent: scriptedAgent().agent, highWaterBytes: HIGH_WATER, maxBufferedBytes: MAX_BUFFERED, heartbeatMs: 2000 });
    const sessionId = await createSession(url);
    const healthy = new WsClient(url, 'healthy');
    await healthy.welcomed();
    const { ws, closed } = await nonReadingSocket(url);
    const payload = Buffer.alloc(125, 1);
    let peak = 0;
    const sample = setInterval(() => {
      for (const c of server.stats().connections) if (c.clientId !== 'healthy') peak = Math.max(peak, c.peakBufferedBytes);
    }, 5);
    onTeardown(() => clearInterval(sample));
    await flood(ws, closed, () => (ws.ping(payload), payload.length), 200 * 1024 * 1024, 500);
    // Closed by the server (1013 if the close frame got through, else cut: 1006).
    expect([1013, 1006]).toContain(await closed);
    expect(server.stats().limits.overflowClosed).toBe(1);
    expect(peak).toBeLessThanOrEqual(MAX_BUFFERED + 256);
    // The healthy client is untouched.
    expect(await healthy.request({ type: 'cancel', sessionId, turnId: 'unknown' })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(healthy.closed).toBe(false);
  }, 60_000); // several MB must pass loopback's kernel buffers first, then two silent heartbeats: slow on a loaded machine

  it('command replies count too: a non-reader flooding commands whose error replies echo a long id is closed the same way', async () => {
    const { server, url } = await startServer({ agent: scriptedAgent().agent, highWaterBytes: HIGH_WATER, maxBufferedBytes: MAX_BUFFERED, heartbeatMs: 2000 });
    const flooder = await nonReadingSocket(url);
    // `session_not_found` names the session: each ~50 KB frame gets a ~50 KB reply.
    const frame = JSON.stringify({ type: 'cancel', id: 'c', sessionId: 's'.repeat(50_000), turnId: 't' });
    await flood(flooder.ws, flooder.closed, () => (flooder.ws.send(frame), frame.length), 200 * 1024 * 1024);
    expect([1013, 1006]).toContain(await flooder.closed);
    expect(server.stats().limits.overflowClosed).toBe(1);
  });
});
