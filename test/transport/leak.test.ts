import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/internal/clock.js';
import { createTransport, type Transport } from '../../src/transport/index.js';
import { httpFixture, type HttpFixture, Recorder, startSse, transportOptions, wsFixture, type WsFixture } from './helpers.js';

/** Handles a live transport would hold: timers and client sockets. */
function handles(): { timers: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return {
    timers: info.filter((r) => r === 'Timeout').length,
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
  };
}

let ws: WsFixture | undefined;
let http: HttpFixture | undefined;

afterEach(async () => {
  await ws?.close();
  await http?.close();
});

describe('no handle outlives close() (F7), with the real clock', () => {
  it('websocket, sse and poll attempts leave no timer and no socket behind', async () => {
    ws = await wsFixture();
    http = await httpFixture((req, res) => {
      if (req.url?.includes('/events')) startSse(res);
      // poll requests are held open until the client aborts them
    });
    const before = handles();
    const recorder = new Recorder();
    const wsOptions = transportOptions(ws.url, systemClock, { heartbeatTimeoutMs: 30_000 });
    const httpOptions = transportOptions(http.url, systemClock, { heartbeatTimeoutMs: 30_000 });
    const transports: Transport[] = [
      createTransport('websocket', wsOptions, recorder),
      createTransport('sse', httpOptions, recorder),
      createTransport('poll', httpOptions, recorder),
    ];
    for (const t of transports) t.subscribe('s1', { after: 0 });
    const conn = await ws.next();
    conn.socket.send(JSON.stringify({ type: 'welcome', clientId: 'client-1', heartbeatMs: 15_000 }));
    await vi.waitFor(() => expect(http?.requests.length).toBe(2));
    await recorder.until((r) => r.calls.filter((c) => c.kind === 'open').length >= 2);
    const pending = transports[0]?.command?.({ type: 'prompt', sessionId: 's1', prompt: 'x' }).catch((e: unknown) => e);
    expect(handles().timers).toBeGreaterThan(before.timers);

    await Promise.all(transports.map((t) => t.close(1_000)));
    expect(await conn.closed).toBe(1000);
    await Promise.all(http.aborted);
    await pending;
    // Measured outside vi.waitFor, whose own timers would count.
    let after = handles();
    for (let i = 0; i < 100 && (after.timers > before.timers || after.sockets > before.sockets); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = handles();
    }
    expect(after.timers).toBeLessThanOrEqual(before.timers);
    expect(after.sockets).toBeLessThanOrEqual(before.sockets);
    expect(recorder.closedCalls).toEqual([]);
  });
});
