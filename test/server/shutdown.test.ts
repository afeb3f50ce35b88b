import { describe, expect, it } from 'vitest';
import { createServer, memoryStore, type AgentChunk, type SessionStore } from '../../src/server.js';
import { connect } from 'node:net';
import { api, createSession, deltaText, eventually, logUntil, prompt, scriptedAgent, silentLogger, SseReader, startServer, WsClient } from './helpers.js';

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (name === 'TCPServerWrap' || name === 'TCPSocketWrap' || name === 'Timeout') counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('F7: graceful close()', () => {
  // F7 (DESIGN.md §1): graceful close flushes tails and clears timers.
  it('F7: ends the running turn with shutting_down, flushes it to every stream, closes sockets with 1001, ends SSE, answers long-polls', async () => {
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid });
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    await sse.until(() => sse.status === 200, 'sse open');
    const turnId = (await prompt(url, sid, 'long')).body.turn.id;
    const run = await script.next();
    run.delta('partial');
    await ws.until(() => ws.events.some((e) => e.type === 'turn.delta'), 'delta');
    const poll = api(url, 'GET', `/v1/sessions/${sid}/poll?after=3&wait=20000`);
    await eventually(() => server.stats().pendingPolls === 1, 'poll parked');
    await server.close();
    expect(run.input.signal.aborted).toBe(true);
    const expected = { type: 'turn.error', turnId, error: { code: 'shutting_down', retryable: true } };
    await ws.until(() => ws.closed, 'ws closed');
    expect(ws.closeCode).toBe(1001);
    expect(ws.terminal(turnId)).toMatchObject(expected);
    await sse.until(() => sse.ended, 'sse ended');
    expect(sse.terminal(turnId)).toMatchObject(expected);
    const answered = await poll;
    expect(answered.status).toBe(200);
    expect(answered.body.events).toHaveLength(1);
    expect(answered.body.events[0]).toMatchObject(expected);
    expect(server.stats().connections).toEqual([]);
  });

  // F7 (DESIGN.md §1): graceful close flushes tails and clears timers.
  it('F7: flushes the queued tail: a lagging WebSocket gets every event before the 1001 close', async () => {
    const deltas = 20_000;
    const agent = async function* (): AsyncGenerator<AgentChunk> {
      for (let i = 0; i < deltas; i++) yield { type: 'delta', text: 'x' };
    };
    const { url, server } = await startServer({ agent, highWaterBytes: 4096, maxEventsPerSession: deltas + 10 });
    const sid = await createSession(url);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid });
    const turnId = (await prompt(url, sid, 'go')).body.turn.id;
    // Close as soon as the turn completed in the log, while the socket still lags behind.
    await logUntil(server, sid, (e) => e.type === 'turn.completed');
    const lagging = ws.events.length;
    await server.close();
    await ws.until(() => ws.closed, 'closed');
    expect(lagging).toBeLessThan(deltas + 3); // it really was behind when close() started
    expect(ws.closeCode).toBe(1001);
    expect(ws.terminal(turnId)).toMatchObject({ type: 'turn.completed' });
    expect(deltaText(ws.events)).toBe('x'.repeat(deltas));
  });

  // F7 (DESIGN.md §1): graceful close flushes tails and clears timers.
  it('F7: new prompts during shutdown get 503 shutting_down with Retry-After (HTTP and WebSocket)', async () => {
    let releaseStore!: () => void;
    const base = memoryStore();
    const store: SessionStore = {
      ...base,
      close: () => new Promise<void>((resolve) => (releaseStore = resolve)),
    };
    const { url, server } = await startServer({ agent: scriptedAgent().agent, store });
    const sid = await createSession(url);
    const ws = new WsClient(url);
    await ws.welcomed();
    // An HTTP prompt whose body is still on its way when close() starts.
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const body = JSON.stringify({ prompt: 'too late' });
    socket.write(`POST /v1/sessions/${sid}/turns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    const response = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
        if (text.includes('}}')) resolve(text);
      });
    });
    const closing = server.close();
    socket.write(body);
    const text = await response;
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    expect(text).toMatch(/retry-after: 1/i);
    expect(JSON.parse(text.slice(text.indexOf('{')))).toMatchObject({ error: { code: 'shutting_down', status: 503 } });
    const wsReply = await ws.request({ type: 'prompt', sessionId: sid, prompt: 'too late' });
    expect(wsReply).toMatchObject({ ok: false, error: { code: 'shutting_down', status: 503 } });
    socket.destroy();
    releaseStore();
    await closing;
  });

  // F7 (DESIGN.md §1): graceful close flushes tails and clears timers.
  it('F7: close() is bounded by its timeout even when a reader never drains, and is idempotent', async () => {
    const agent = async function* (): AsyncGenerator<AgentChunk> {
      for (let i = 0; i < 50_000; i++) yield { type: 'delta', text: 'yyyyyyyyyyyyyyyy' };
    };
    const server = createServer({ agent, logger: silentLogger, highWaterBytes: 8192, maxEventsPerSession: 60_000 });
    const { url } = await server.listen(0, '127.0.0.1');
    const sid = await createSession(url);
    const ws = new WsClient(url, 'stuck');
    await ws.request({ type: 'subscribe', sessionId: sid });
    ws.ws.pause();
    await prompt(url, sid, 'go');
    await logUntil(server, sid, (e) => e.type === 'turn.completed');
    expect(server.stats().connections.find((c) => c.clientId === 'stuck')!.bufferedBytes).toBeGreaterThan(0);
    const started = performance.now();
    const [a, b] = [server.close({ timeoutMs: 300 }), server.close()];
    await Promise.all([a, b]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(server.stats().connections).toEqual([]);
  });

  // F7 (DESIGN.md §1): graceful close flushes tails and clears timers.
  it('F7: leaves no server sockets or timers behind', async () => {
    const before = resourceCounts();
    const script = scriptedAgent();
    const server = createServer({ agent: script.agent, logger: silentLogger, heartbeatMs: 50 });
    const { url } = await server.listen(0, '127.0.0.1');
    const sid = await createSession(url);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid });
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    await sse.until(() => sse.status === 200, 'sse');
    await prompt(url, sid, 'x');
    await script.next();
    await server.close();
    await ws.until(() => ws.closed, 'ws closed');
    await sse.until(() => sse.ended, 'sse ended');
    // Sockets close asynchronously on both ends; wait (bounded) for the counts to come back.
    const deadline = Date.now() + 5000;
    let after = resourceCounts();
    const settled = () =>
      (after.TCPServerWrap ?? 0) <= (before.TCPServerWrap ?? 0) &&
      (after.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0) &&
      (after.Timeout ?? 0) <= (before.Timeout ?? 0);
    while (!settled() && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
      after = resourceCounts();
    }
    expect(after.TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0);
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  });
});
