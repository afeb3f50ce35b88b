import { describe, expect, it } from 'vitest';
import type { AgentChunk } from '../../src/server.js';
import { createSession, deltaText, prompt, SseReader, startServer, WsClient } from './helpers.js';

const DELTAS = 100_000;
/**
 * 100k deltas are what it takes to fill the kernel's socket buffers (~4 MB) and
 * reach the server's high-water mark: the fast readers finish in ~2 s on an idle
 * machine, 23 s with two busy loops on its two cores, and over 60 s with other
 * suites running too. The waits and the budget are for that much work; a hang
 * still fails, only later.
 */
const PHASE_WAIT_MS = 120_000;
const FLOOD_TEST_TIMEOUT_MS = 3 * PHASE_WAIT_MS;
const piece = (i: number) => `d${String(i).padStart(6, '0')};`;
const expectedText = Array.from({ length: DELTAS }, (_, i) => piece(i)).join('');

async function* flood(): AsyncGenerator<AgentChunk> {
  for (let i = 0; i < DELTAS; i++) yield { type: 'delta', text: piece(i) };
}

describe('F6: backpressure, not disconnection', () => {
  // F6 (DESIGN.md §1): backpressure, not disconnection.
  it('F6: a stalled WebSocket reader stays bounded while 100k deltas stream; other readers finish; it gets the full text after resuming', async () => {
    const highWaterBytes = 64 * 1024;
    const { url, server } = await startServer({ agent: flood, highWaterBytes, maxEventsPerSession: DELTAS + 100 });
    const sid = await createSession(url);

    const stalled = new WsClient(url, 'stalled');
    await stalled.request({ type: 'subscribe', sessionId: sid });
    stalled.ws.pause(); // stop reading the socket: the kernel buffers fill, then the server's
    const fastWs = new WsClient(url, 'fast-ws');
    await fastWs.request({ type: 'subscribe', sessionId: sid });
    const fastSse = new SseReader(`${url}/v1/sessions/${sid}/events`, { 'x-tether-client': 'fast-sse' });
    await fastSse.until(() => fastSse.status === 200, 'sse connected');

    const started = performance.now();
    const turnId = (await prompt(url, sid, 'flood')).body.turn.id;
    await fastWs.until(() => fastWs.terminal(turnId) !== undefined, 'fast ws terminal', PHASE_WAIT_MS);
    await fastSse.until(() => fastSse.terminal(turnId) !== undefined, 'fast sse terminal', PHASE_WAIT_MS);
    const elapsedMs = performance.now() - started;

    // The others finished while the stalled one was still stalled, and got everything.
    expect(deltaText(fastWs.events, turnId)).toBe(expectedText);
    expect(deltaText(fastSse.events, turnId)).toBe(expectedText);
    expect(fastWs.terminal(turnId)).toMatchObject({ type: 'turn.completed' });
    expect(stalled.terminal(turnId)).toBeUndefined();

    const stats = server.stats();
    const conn = stats.connections.find((c) => c.clientId === 'stalled')!;
    // Bounded: at most the high-water mark plus one batch (a quarter of it) plus small replies.
    const bound = highWaterBytes + highWaterBytes / 4 + 4096;
    expect(conn.bufferedBytes).toBeGreaterThan(0); // it really is stalled, not drained
    expect(conn.peakBufferedBytes).toBeLessThanOrEqual(bound);
    expect(stalled.closed).toBe(false); // never disconnected for being slow
    console.log(
      `[measure] 100k deltas to 2 fast readers in ${elapsedMs.toFixed(0)} ms; stalled reader peak buffered ${conn.peakBufferedBytes} B (bound ${bound} B), written before stall ${conn.writtenBytes} B`,
    );

    stalled.ws.resume();
    await stalled.until(() => stalled.terminal(turnId) !== undefined, 'stalled terminal', PHASE_WAIT_MS);
    expect(deltaText(stalled.events, turnId)).toBe(expectedText);
    expect(stalled.resets).toEqual([]);
    const seqs = stalled.events.map((e) => e.seq);
    expect(seqs.every((s, i) => s === i + 1)).toBe(true);
    // While catching up the bound still holds, except that one event is never split: the
    // turn.completed event carries the whole output (~900 KB here) and goes out as one frame.
    const largestEvent = Buffer.byteLength(JSON.stringify(stalled.terminal(turnId)));
    const catchUpPeak = server.stats().connections.find((c) => c.clientId === 'stalled')!.peakBufferedBytes;
    expect(catchUpPeak).toBeLessThanOrEqual(highWaterBytes + Math.max(highWaterBytes / 4, largestEvent) + 4096);
  }, FLOOD_TEST_TIMEOUT_MS);

  // F6 (DESIGN.md §1): backpressure, not disconnection.
  it('F6: a stalled SSE reader stays bounded too and catches up by cursor after resuming', async () => {
    const highWaterBytes = 32 * 1024;
    const { url, server } = await startServer({ agent: flood, highWaterBytes, maxEventsPerSession: DELTAS + 100 });
    const sid = await createSession(url);
    const stalled = new SseReader(`${url}/v1/sessions/${sid}/events`, { 'x-tether-client': 'stalled-sse' });
    await stalled.until(() => stalled.status === 200, 'connected');
    stalled.pause();
    const fast = new WsClient(url, 'fast');
    await fast.request({ type: 'subscribe', sessionId: sid });
    const turnId = (await prompt(url, sid, 'flood')).body.turn.id;
    await fast.until(() => fast.terminal(turnId) !== undefined, 'fast terminal', PHASE_WAIT_MS);
    const conn = server.stats().connections.find((c) => c.clientId === 'stalled-sse')!;
    const bound = highWaterBytes + highWaterBytes / 4 + 4096;
    expect(conn.bufferedBytes).toBeGreaterThan(0);
    expect(conn.peakBufferedBytes).toBeLessThanOrEqual(bound);
    console.log(`[measure] stalled SSE reader peak buffered ${conn.peakBufferedBytes} B (bound ${bound} B)`);
    stalled.resume();
    await stalled.until(() => stalled.terminal(turnId) !== undefined, 'stalled terminal', PHASE_WAIT_MS);
    expect(deltaText(stalled.events, turnId)).toBe(expectedText);
    expect(stalled.ended).toBe(false); // never disconnected
  }, FLOOD_TEST_TIMEOUT_MS);
});
