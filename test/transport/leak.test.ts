import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock, type Clock } from '../../src/internal/clock.js';
import { createTransport, type Transport } from '../../src/transport/index.js';
import { clientSockets as sockets } from '../support/client-sockets.js';
import { httpFixture, type HttpFixture, Recorder, startSse, transportOptions, wsFixture, type WsFixture } from './helpers.js';


/**
 * The real clock, counting the timers it has pending. Transports create every
 * timer through their clock, so this sees exactly theirs — unlike
 * `getActiveResourcesInfo()`, which also counts timers the test runner and
 * the fixtures hold, and so cannot tell a leak from a neighbour's timer.
 */
function trackingClock(): Clock & { pending: Set<unknown> } {
  const pending = new Set<unknown>();
  return {
    pending,
    now: () => systemClock.now(),
    setTimeout(fn, ms) {
      const handle = systemClock.setTimeout(() => {
        pending.delete(handle);
        fn();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      systemClock.clearTimeout(handle);
    },
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
    const before = sockets();
    const clock = trackingClock();
    const recorder = new Recorder();
    const wsOptions = transportOptions(ws.url, clock, { heartbeatTimeoutMs: 30_000 });
    const httpOptions = transportOptions(http.url, clock, { heartbeatTimeoutMs: 30_000 });
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
    expect(clock.pending.size).toBeGreaterThan(0);

    await Promise.all(transports.map((t) => t.close(1_000)));
    expect(await conn.closed).toBe(1000);
    await Promise.all(http.aborted);
    await pending;
    // Every timer the transports set is gone once close() resolved.
    expect(clock.pending.size).toBe(0);
    // Sockets close asynchronously after the handshake / abort: wait for them (bounded).
    let after = sockets();
    for (let i = 0; i < 100 && after > before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = sockets();
    }
    expect(after).toBeLessThanOrEqual(before);
    expect(recorder.closedCalls).toEqual([]);
  });
});
