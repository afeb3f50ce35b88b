/**
 * A session's stream ends when its log closes outside a shutdown — the runner lost the
 * session's lease, or the node lost its live feed of the cluster (the store is unreachable) —
 * so the client backs off and resumes from its cursor (F8). Before, such a stream went quiet:
 * SSE kept sending heartbeats, a WebSocket subscription got nothing more, and a reader waiting
 * for an event the store never took waited forever. A fake cluster on the memory store stands
 * in for Redis, so the moment is exact.
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/server.js';
import { closeCodes } from '../../src/protocol/index.js';
import { fakeCluster } from '../support/fake-cluster.js';
import type { SessionStore } from '../../src/server/core/session-store.js';
import { createSession, eventually, prompt, scriptedAgent, SseReader, startServer, WsClient } from './helpers.js';

/** The memory store with a switch that makes event appends hang (the store stopped answering). */
function stallableStore(fake: ReturnType<typeof fakeCluster>) {
  const inner = memoryStore();
  let stalled = false;
  let hanging = 0;
  const store: SessionStore = Object.assign(Object.create(inner) as SessionStore, {
    appendEvents: (...args: Parameters<SessionStore['appendEvents']>) => {
      if (!stalled) return inner.appendEvents(...args);
      hanging++;
      return new Promise<void>(() => {});
    },
    cluster: () => fake.cluster,
  });
  return { store, stall: () => void (stalled = true), hanging: () => hanging };
}

describe('streams end when their session log closes outside a shutdown', () => {
  it('runner lost the lease with an event the store never took: the SSE response ends and the WebSocket closes with 1013', async () => {
    const fake = fakeCluster();
    const { store, stall, hanging } = stallableStore(fake);
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, store });
    const sid = await createSession(url);
    const turnId = (await prompt(url, sid, 'p')).body.turn.id as string;
    const run = await script.next();
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events?after=0`);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid, after: 0 });
    await sse.until(() => sse.events.some((e) => e.type === 'turn.started'), 'turn.started on SSE');
    await ws.until(() => ws.events.some((e) => e.type === 'turn.started'), 'turn.started on WebSocket');

    // The store stops answering: this delta is assigned a seq but never stored, so never published.
    stall();
    run.delta('never stored');
    await eventually(() => hanging() > 0, 'the delta on its way to the store');
    fake.lose(sid);

    await sse.until(() => sse.ended, 'the SSE response to end', 10_000);
    await ws.until(() => ws.closed, 'the WebSocket to close', 10_000);
    expect(ws.closeCode).toBe(closeCodes.tryAgainLater);
    // Nothing unstored was shown to anyone.
    for (const events of [sse.events, ws.events]) expect(events.filter((e) => e.turnId === turnId).map((e) => e.type)).toEqual(['turn.queued', 'turn.started']);
  });

  it('a node that lost its live feed ends the streams of the sessions it follows (replicas)', async () => {
    const fake = fakeCluster();
    const { store } = stallableStore(fake);
    const { url } = await startServer({ agent: scriptedAgent().agent, store });
    // A session another node created and runs: this node loads it as a replica that follows that node.
    const sid = 'made-elsewhere';
    await store.saveSession({ version: 2, id: sid, epoch: 'e1', createdAt: Date.now() });
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events?after=0`);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: sid, after: 0 });
    await sse.until(() => sse.status === 200, 'the SSE response');

    fake.unreachable();

    await sse.until(() => sse.ended, 'the SSE response to end', 10_000);
    await ws.until(() => ws.closed, 'the WebSocket to close', 10_000);
    expect(ws.closeCode).toBe(closeCodes.tryAgainLater);
  });
});
