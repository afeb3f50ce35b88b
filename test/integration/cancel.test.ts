/**
 * Cancels between clients and across turns, through the fault proxy, on
 * each transport: F1 (a cancel by someone else is a normal end, never a 5xx
 * or a rejection) and F3 (a cancel names its turn and never touches another).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SubscriptionEvent, TurnEvent } from '../../src/index.js';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { recordingClient, serverErrors, serverTurn, summarize, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
const clients: Recorded[] = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

afterEach(async () => {
  process.off('unhandledRejection', onRejection);
  await Promise.all(clients.splice(0).map((r) => r.client.close()));
  await proxy?.close();
  await server?.close();
  server = proxy = undefined;
  expect(rejections.splice(0)).toEqual([]);
});

async function setup(transport: 'websocket' | 'sse' | 'poll') {
  process.on('unhandledRejection', onRejection);
  server = await createTestServer({
    script: ({ prompt }) => (prompt === 'hang' ? [{ delta: 'working' }, { hang: true }] : [{ delta: 'quick' }]),
  });
  proxy = await createFaultProxy({ target: server.url }).listen();
  const make = (clientId: string) => {
    const r = recordingClient({ baseUrl: proxy!.url, transports: [transport], clientId });
    clients.push(r);
    return r;
  };
  return { server, proxy, alice: make('alice'), bob: make('bob') };
}

/** Collects a subscription's events until `stop` says so. */
async function collect(sub: AsyncIterable<SubscriptionEvent>, stop: (ev: SubscriptionEvent) => boolean) {
  const out: SubscriptionEvent[] = [];
  for await (const ev of sub) {
    out.push(ev);
    if (stop(ev)) break;
  }
  return out;
}

const terminalOf = (turnId: string) => (ev: SubscriptionEvent) =>
  ev.turnId === turnId && (ev.type === 'turn.completed' || ev.type === 'turn.canceled' || ev.type === 'turn.error');

describe.each(['websocket', 'sse', 'poll'] as const)('over %s', (transport) => {
  it("two clients share a session; bob cancels alice's turn: both see one turn.canceled by bob, nothing rejects (F1)", async () => {
    const { server, alice, bob } = await setup(transport);
    const session = await alice.client.createSession();
    const aliceSub = collect(session.subscribe({ after: 0 }), () => false);
    const bobSession = bob.client.session(session.id);
    const turn = await session.prompt('hang');
    const bobSubIter = bobSession.subscribe({ after: 0 });
    const aliceEvents: TurnEvent[] = [];
    const it = turn[Symbol.asyncIterator]();
    while (aliceEvents.at(-1)?.type !== 'turn.delta') aliceEvents.push((await it.next()).value);
    const watched = bobSession.turn(turn.id);
    // Both cancel at once: exactly one wins, the other is told it already finished.
    const [byBob, byAliceLate] = await Promise.all([watched.cancel({ reason: 'enough' }), (async () => {
      await new Promise((r) => setImmediate(r));
      return turn.cancel();
    })()]);
    const results = [byBob, byAliceLate];
    expect(results.filter((r) => r.cancelled)).toHaveLength(1);
    expect(results.filter((r) => !r.cancelled)).toEqual([{ cancelled: false, reason: 'already_finished' }]);
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      aliceEvents.push(value);
    }
    const bobEvents: TurnEvent[] = [];
    for await (const ev of watched) bobEvents.push(ev);
    const truth = await serverTurn(server.url, session.id, turn.id);
    expect(truth.terminal).toMatchObject({ type: 'turn.canceled' });
    const expectedBy = byBob.cancelled ? 'bob' : 'alice';
    for (const events of [aliceEvents, bobEvents]) {
      const { terminals, text } = summarize(events);
      expect(terminals).toHaveLength(1);
      expect(terminals[0]).toMatchObject({ type: 'turn.canceled', canceledBy: expectedBy, seq: truth.terminal!.seq });
      expect(text).toBe('working');
    }
    expect(await turn.result).toEqual(await watched.result);
    // The session streams of both clients carry exactly one terminal for the turn.
    const bobSeen = await collect(bobSubIter, terminalOf(turn.id));
    expect(bobSeen.filter(terminalOf(turn.id))).toHaveLength(1);
    await alice.client.close();
    const aliceSeen = await aliceSub;
    expect(aliceSeen.filter(terminalOf(turn.id))).toHaveLength(1);
    expect(serverErrors(alice)).toEqual([]);
    expect(serverErrors(bob)).toEqual([]);
  });

  it('a cancel for an old turn while a new one runs leaves the new one alone (F3)', async () => {
    const { server, alice, bob } = await setup(transport);
    const session = await alice.client.createSession();
    const old = await session.prompt('quick');
    expect((await old.result).type).toBe('turn.completed');
    const fresh = await session.prompt('hang');
    const it = fresh[Symbol.asyncIterator]();
    const seen: TurnEvent[] = [];
    while (seen.at(-1)?.type !== 'turn.delta') seen.push((await it.next()).value);
    // The stale cancel, from the owner and from another client.
    await expect(old.cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
    await expect(bob.client.session(session.id).turn(old.id).cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
    expect((await serverTurn(server.url, session.id, fresh.id)).status).toBe('running');
    // Only now does the new turn end, by its own cancel; nothing of the old turn reached its handle.
    await expect(fresh.cancel()).resolves.toEqual({ cancelled: true });
    for (;;) {
      const { value, done } = await it.next();
      if (done) break;
      seen.push(value);
    }
    expect(seen.every((e) => e.turnId === fresh.id)).toBe(true);
    expect(summarize(seen).terminals).toEqual([expect.objectContaining({ type: 'turn.canceled', canceledBy: 'alice' })]);
    expect((await old.result).type).toBe('turn.completed');
    expect(serverErrors(alice)).toEqual([]);
    expect(serverErrors(bob)).toEqual([]);
  });

  it('a cancel of the running turn never touches the queued one behind it (F3)', async () => {
    const { alice } = await setup(transport);
    const session = await alice.client.createSession();
    const first = await session.prompt('hang');
    const second = await session.prompt('quick');
    await expect(first.cancel()).resolves.toEqual({ cancelled: true });
    const [a, b] = await Promise.all([first.result, second.result]);
    expect(a).toMatchObject({ type: 'turn.canceled', turnId: first.id });
    expect(b).toMatchObject({ type: 'turn.completed', turnId: second.id, output: 'quick' });
    const events: TurnEvent[] = [];
    for await (const ev of second) events.push(ev);
    expect(events.every((e) => e.turnId === second.id)).toBe(true);
    expect(summarize(events).terminals).toHaveLength(1);
  });
});
