/**
 * A connection dropped in the middle of a turn, on each transport, through
 * the fault proxy: with a TCP reset and with an end without a WebSocket close
 * frame. The client must reconnect, resume from its cursor and deliver the
 * turn's full text and exactly one terminal (F4, F5, F8).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TransportName, TurnEvent } from '../../src/index.js';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { gate, recordingClient, serverErrors, serverTurn, stateReached, summarize, type Gate, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
let recorded: Recorded | undefined;

afterEach(async () => {
  await recorded?.client.close();
  await proxy?.close();
  await server?.close();
  server = proxy = recorded = undefined;
});

/** A turn that streams a first part, waits on `g`, then streams the rest. */
async function setup(transport: TransportName, g: Gate) {
  server = await createTestServer({
    script: () => [{ delta: 'before ' }, { delta: 'the drop, ' }, { until: g.promise }, { delta: 'after ' }, { delta: 'the drop' }],
  });
  proxy = await createFaultProxy({ target: server.url }).listen();
  recorded = recordingClient({ baseUrl: proxy.url, transports: [transport] });
  return { server, proxy, recorded };
}

const KIND = { websocket: 'websocket', sse: 'sse', poll: 'http' } as const;

describe.each(['websocket', 'sse', 'poll'] as const)('a drop mid-turn over %s', (transport) => {
  it.each(['reset', 'endAll'] as const)('via %s: full text, one terminal, equal to the server', async (fault) => {
    const g = gate();
    const { server, proxy, recorded } = await setup(transport, g);
    const { client } = recorded;
    const session = await client.createSession();
    const turn = await session.prompt('go');
    const it = turn[Symbol.asyncIterator]();
    const seen: TurnEvent[] = [];
    // Read until the first part arrived: the stream is live and mid-turn.
    for (;;) {
      const { value, done } = await it.next();
      expect(done).toBe(false);
      seen.push(value!);
      if (value!.type === 'turn.delta' && value!.text === 'the drop, ') break;
    }
    await stateReached(client, (s) => s.status === 'open');
    const states: string[] = [];
    client.on('state', (s) => states.push(s.status));
    const reconnected = proxy.nextConnection({ kind: KIND[transport], timeoutMs: 10_000 });
    const touched = fault === 'reset' ? proxy.reset() : proxy.endAll();
    expect(touched).toBeGreaterThan(0);
    await reconnected;
    g.open();
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      seen.push(value!);
    }
    const { text, terminals } = summarize(seen);
    const truth = await serverTurn(server.url, session.id, turn.id);
    expect(truth.terminal?.type).toBe('turn.completed');
    expect(text).toBe('before the drop, after the drop');
    expect(text).toBe(truth.terminal!.output);
    expect(terminals).toHaveLength(1);
    expect(terminals[0]).toMatchObject({ type: 'turn.completed', seq: truth.terminal!.seq });
    expect(await turn.result).toEqual(terminals[0]);
    // Every event of the turn once, contiguous seq.
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(states).toContain('reconnecting');
    expect(serverErrors(recorded)).toEqual([]);
  });
});

describe('a subscription across drops', () => {
  it.each(['websocket', 'sse', 'poll'] as const)('%s: every event once, in order, across three drops', async (transport) => {
    const g = [gate(), gate(), gate()];
    server = await createTestServer({
      script: () => [{ delta: 'a' }, { until: g[0]!.promise }, { delta: 'b' }, { until: g[1]!.promise }, { delta: 'c' }, { until: g[2]!.promise }, { delta: 'd' }],
    });
    proxy = await createFaultProxy({ target: server.url }).listen();
    recorded = recordingClient({ baseUrl: proxy.url, transports: [transport] });
    const session = await recorded.client.createSession();
    const sub = session.subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const turn = await session.prompt('go');
    const seqs: number[] = [];
    const next = async () => {
      const { value, done } = await it.next();
      expect(done).toBe(false);
      expect(value!.type).not.toBe('session.reset');
      seqs.push((value as { seq: number }).seq);
      return value!;
    };
    for (let i = 0; i < 3; i++) {
      while ((await next()).type !== 'turn.delta');
      const reconnected = proxy.nextConnection({ kind: KIND[transport], timeoutMs: 10_000 });
      if (i % 2 === 0) proxy.reset();
      else proxy.endAll();
      await reconnected;
      g[i]!.open();
    }
    while ((await next()).type !== 'turn.completed');
    sub.close();
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect((await turn.result).type).toBe('turn.completed');
    expect((await turn.result as { output: string }).output).toBe('abcd');
    expect(serverErrors(recorded)).toEqual([]);
  });
});
