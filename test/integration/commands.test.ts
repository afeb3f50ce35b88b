/**
 * Commands and turn lifetimes across faults: a prompt racing a connection
 * reset is delivered exactly once (F9, idempotency keys), and a turn outlives
 * the connection and the client that prompted it (F2).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { gate, recordingClient, serverErrors, stateReached, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
const clients: Recorded[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((r) => r.client.close()));
  await proxy?.close();
  await server?.close();
  server = proxy = undefined;
});

async function snapshotTurns(sessionId: string): Promise<Array<{ id: string; prompt: string; status: string }>> {
  const res = await fetch(`${server!.url}/v1/sessions/${sessionId}`);
  return ((await res.json()) as { turns: never[] }).turns;
}

describe.each(['websocket', 'sse', 'poll'] as const)('over %s', (transport) => {
  it('prompts racing connection resets are each delivered exactly once (F9)', async () => {
    server = await createTestServer({ script: [{ delta: 'ok' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    const rec = recordingClient({ baseUrl: proxy.url, transports: [transport] });
    clients.push(rec);
    const session = await rec.client.createSession();
    const sub = session.subscribe({ after: 0 });
    await stateReached(rec.client, (s) => s.status === 'open');
    const turns = [];
    for (let i = 0; i < 5; i++) {
      const pending = session.prompt(`p${i}`);
      // Cut every connection while the command is on its way (WebSocket frame or HTTP request).
      await new Promise((r) => setImmediate(r));
      proxy.reset();
      turns.push(await pending);
    }
    const results = await Promise.all(turns.map((t) => t.result));
    expect(results.map((r) => r.type)).toEqual(Array(5).fill('turn.completed'));
    const onServer = await snapshotTurns(session.id);
    expect(onServer.map((t) => t.prompt)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(new Set(turns.map((t) => t.id)).size).toBe(5);
    sub.close();
    expect(serverErrors(rec)).toEqual([]);
  });

  it('a turn outlives the prompting client: its close and dropped connections do not end it (F2)', async () => {
    const g = gate();
    server = await createTestServer({ script: [{ delta: 'one ' }, { until: g.promise }, { delta: 'two' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    const alice = recordingClient({ baseUrl: proxy.url, transports: [transport], clientId: 'alice' });
    const bob = recordingClient({ baseUrl: server.url, transports: [transport], clientId: 'bob' });
    clients.push(alice, bob);
    const session = await alice.client.createSession();
    const turn = await session.prompt('x');
    const watched = bob.client.session(session.id).turn(turn.id);
    const it = watched[Symbol.asyncIterator]();
    while ((await it.next()).value?.type !== 'turn.delta');
    proxy.reset();
    await alice.client.close();
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'client_closed' } });
    g.open();
    const end = await watched.result;
    expect(end).toMatchObject({ type: 'turn.completed', output: 'one two' });
    expect(serverErrors(bob)).toEqual([]);
  });
});
