/** Slow clients are cut by the header/body timeouts while a healthy client keeps streaming. */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSession, onTeardown, prompt, scriptedAgent, SseReader, startServer } from '../server/helpers.js';

/** A raw TCP client; resolves `closed` with what the server wrote before closing. */
function rawClient(url: string): { socket: Socket; closed: Promise<string> } {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  onTeardown(() => socket.destroy());
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  return { socket, closed };
}

/** Write `text` one byte every `ms` until the socket closes. */
function trickle(socket: Socket, text: string, ms: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]!);
  }, ms);
  onTeardown(() => clearInterval(timer));
}

describe('slow clients', () => {
  it('slow headers, a slow body and a silent socket are each cut with 408 while an SSE client keeps streaming', async () => {
    const agent = scriptedAgent();
    const { server, url } = await startServer({ agent: agent.agent, headersTimeoutMs: 400, requestTimeoutMs: 800 });
    const sessionId = await createSession(url);
    const healthy = new SseReader(`${url}/v1/sessions/${sessionId}/events`);
    await healthy.until(() => healthy.status === 200, 'SSE open');
    expect((await prompt(url, sessionId, 'stream')).status).toBe(201);
    const run = await agent.next();
    let deltas = 0;
    const streaming = setInterval(() => run.delta(`d${deltas++} `), 20);
    onTeardown(() => clearInterval(streaming));

    const slowHeaders = rawClient(url);
    trickle(slowHeaders.socket, `GET /v1/health HTTP/1.1\r\nHost: x\r\n${'X-Slow: yes\r\n'.repeat(100)}\r\n`, 50);
    const slowBody = rawClient(url);
    slowBody.socket.write(`POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`);
    trickle(slowBody.socket, `{"metadata":{"pad":"${'x'.repeat(170)}"}}`, 50);
    const silent = rawClient(url);

    const [headersReply, bodyReply, silentReply] = await Promise.all([slowHeaders.closed, slowBody.closed, silent.closed]);
    // 408s, not answers: cut before the trickles (~65 s and ~10 s) could finish.
    expect(headersReply).toMatch(/^HTTP\/1\.1 408/);
    expect(bodyReply).toMatch(/^HTTP\/1\.1 408/);
    expect(silentReply === '' || silentReply.startsWith('HTTP/1.1 408')).toBe(true);
    expect(server.stats().limits.timedOut).toBeGreaterThanOrEqual(2);
    expect(server.stats().sessions).toBe(1);

    // The healthy stream never stopped: it got the deltas written while the slow clients were cut.
    const seen = deltas;
    clearInterval(streaming);
    run.end();
    await healthy.until(() => healthy.events.some((e) => e.type === 'turn.completed'), 'turn.completed');
    expect(healthy.events.filter((e) => e.type === 'turn.delta').length).toBe(seen);
    expect(healthy.ended).toBe(false);
  });
});
