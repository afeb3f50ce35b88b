/**
 * Hostile networks through the fault proxy: WebSocket upgrades refused (fall
 * back to SSE), SSE buffered by a middlebox too (fall back to long-poll), and
 * half-open connections caught by the heartbeat deadline (F8). Each turn waits
 * on a gate that opens only after the client settled on its transport, so the
 * rest of the turn must really travel over it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TurnEvent } from '../../src/index.js';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { gate, recordingClient, serverErrors, serverTurn, stateReached, summarize, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
let recorded: Recorded | undefined;

afterEach(async () => {
  await recorded?.client.close();
  await proxy?.close();
  await server?.close();
  server = proxy = recorded = undefined;
});

async function readAll(it: AsyncIterator<TurnEvent>, seen: TurnEvent[]): Promise<void> {
  for (;;) {
    const { value, done } = await it.next();
    if (done) return;
    seen.push(value);
  }
}

describe('transport fallback', () => {
  it('WebSocket upgrades refused: falls back to SSE and the turn streams over it', async () => {
    const g = gate();
    server = await createTestServer({ script: [{ delta: 'one ' }, { until: g.promise }, { delta: 'two' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    proxy.refuseWebSocket(true);
    recorded = recordingClient({ baseUrl: proxy.url });
    const { client } = recorded;
    const transports: string[] = [];
    client.on('state', (s) => void (s.status === 'open' && transports.push(s.transport)));
    const session = await client.createSession();
    const turn = await session.prompt('x');
    await stateReached(client, (s) => s.status === 'open');
    expect(client.state).toMatchObject({ status: 'open', transport: 'sse' });
    expect(proxy.stats.refusedUpgrades).toBeGreaterThanOrEqual(1);
    const sseBefore = proxy.connections.filter((c) => c.kind === 'sse').length;
    expect(sseBefore).toBeGreaterThanOrEqual(1);
    g.open();
    const seen: TurnEvent[] = [];
    await readAll(turn[Symbol.asyncIterator](), seen);
    const { text, terminals } = summarize(seen);
    const truth = await serverTurn(server.url, session.id, turn.id);
    expect(text).toBe('one two');
    expect(text).toBe(truth.terminal!.output);
    expect(terminals).toHaveLength(1);
    expect(transports).toEqual(['sse']);
    expect(serverErrors(recorded)).toEqual([]);
  });

  it('WebSocket refused and SSE buffered: falls back to long-poll and the turn streams over it', async () => {
    const g = gate();
    server = await createTestServer({ script: [{ delta: 'one ' }, { until: g.promise }, { delta: 'two' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    proxy.refuseWebSocket(true);
    proxy.bufferSse(true);
    // The SSE attempt only fails by its open deadline (10 s by default, twice before the ladder moves): shortened here.
    recorded = recordingClient({ baseUrl: proxy.url, openTimeoutMs: 400 });
    const { client } = recorded;
    const transports: string[] = [];
    client.on('state', (s) => void ((s.status === 'connecting' || s.status === 'reconnecting') && transports.push(s.transport)));
    const session = await client.createSession();
    const turn = await session.prompt('x');
    await stateReached(client, (s) => s.status === 'open');
    expect(client.state).toMatchObject({ status: 'open', transport: 'poll' });
    expect(transports).toContain('sse');
    g.open();
    const seen: TurnEvent[] = [];
    await readAll(turn[Symbol.asyncIterator](), seen);
    const { text, terminals } = summarize(seen);
    expect(text).toBe('one two');
    expect(text).toBe((await serverTurn(server.url, session.id, turn.id)).terminal!.output);
    expect(terminals).toHaveLength(1);
    expect(serverErrors(recorded)).toEqual([]);
  });
});

describe('half-open connections (stall)', () => {
  it.each(['websocket', 'sse', 'poll'] as const)('%s: a stall is caught by the heartbeat deadline; the client reconnects and the turn completes', async (transport) => {
    const g = gate();
    server = await createTestServer({ heartbeatMs: 100, script: [{ delta: 'one ' }, { until: g.promise }, { delta: 'two' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    // The client's heartbeat deadline is not a public option (45 s fixed): set through the internal hook.
    // Long-poll: a request's deadline is its wait plus the heartbeat timeout, so the wait is shortened too.
    recorded = recordingClient({ baseUrl: proxy.url, transports: [transport], heartbeatTimeoutMs: 400 }, { pollWaitMs: 300 });
    const { client, errors } = recorded;
    const session = await client.createSession();
    const turn = await session.prompt('x');
    const it = turn[Symbol.asyncIterator]();
    const seen: TurnEvent[] = [];
    while (seen.at(-1)?.type !== 'turn.delta') seen.push((await it.next()).value);
    await stateReached(client, (s) => s.status === 'open');
    proxy.stall(true);
    const t0 = Date.now();
    await stateReached(client, (s) => s.status === 'reconnecting', 5000);
    const detectedMs = Date.now() - t0;
    // WebSocket and SSE name the missed heartbeat; a stalled long-poll misses its request deadline.
    expect(errors.map((e) => e.code)).toContain(transport === 'poll' ? 'timeout' : 'heartbeat_timeout');
    expect(detectedMs).toBeLessThan(3000);
    proxy.heal();
    await stateReached(client, (s) => s.status === 'open', 10_000);
    g.open();
    await readAll(it, seen);
    const { text, terminals } = summarize(seen);
    expect(text).toBe('one two');
    expect(terminals).toHaveLength(1);
    expect(text).toBe((await serverTurn(server.url, session.id, turn.id)).terminal!.output);
    expect(serverErrors(recorded)).toEqual([]);
  });
});
