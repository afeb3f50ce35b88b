/**
 * Rolling deploy: SIGTERM one node at a time (the node running a turn, with another
 * turn queued behind it), then start it again. The running turn finishes on its node;
 * the queued turn runs on another node; no turn ends `interrupted`; the stopped node
 * exits cleanly; no watcher loses or duplicates an event.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { clusterSuiteBinary, clusterStoreOptions } from './cluster-options.js';
import { diagnose } from './diagnose.js';
import { compareWithLog, LADDERS, newSession, serverLog, TERMINALS, terminalsByTurn, watch, type Watcher } from './watchers.js';

const redisBinary = clusterSuiteBinary('cluster rolling deploy');
const ROUNDS = 3;

let cluster: Cluster;
beforeAll(async () => {
  // Half the shutdown budget is the drain: 10 s, longer than a turn here (4 s).
  if (redisBinary) cluster = await startCluster({ redisBinary, store: clusterStoreOptions(), server: { shutdownTimeoutMs: 20_000 } });
});
afterAll(() => cluster?.close());

const outputOf = (end: unknown) => (end as { output?: string }).output ?? '';

it.skipIf(!redisBinary)(`SIGTERM one node at a time ×${ROUNDS}: running turns finish on their node, queued turns move`, async () => {
  const sessionId = await newSession(cluster.url);
  const watchers: Watcher[] = LADDERS.map((ladder, i) => watch(cluster.url, sessionId, `w${i}`, ladder));
  const stopped: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const session = watchers[round % watchers.length]!.rec.client.session(sessionId);
      const running = await session.prompt('run 100 40');
      const queued = await session.prompt('hello');
      const first = await watchers[0]!.next((e) => e.type === 'turn.delta' && e.turnId === running.id);
      const runner = cluster.nodeOf((first.event as { text: string }).text)!;
      expect(runner).toBeDefined();
      const exit = cluster.stop(runner.index, 'SIGTERM', 20_000);
      const ended = (id: string) => watchers[0]!.next((e) => TERMINALS.has(e.type) && (e as { turnId?: string }).turnId === id, { timeoutMs: 30_000 });
      const [end, queuedEnd] = await Promise.all([ended(running.id), ended(queued.id)])
        .then((both) => both.map((t) => t.event))
        .catch(async (error: unknown) => {
          throw new Error(`round ${round}, runner ${runner.nodeId}: ${String(error)}\n${await diagnose(cluster, sessionId, watchers)}`);
        });
      expect(end!.type, JSON.stringify(end)).toBe('turn.completed');
      // The running turn finished on the node being stopped, every delta of it.
      expect(outputOf(end)).toBe(`@${runner.nodeId} ${Array.from({ length: 100 }, (_, i) => `d${i} `).join('')}`);
      expect(queuedEnd!.type, JSON.stringify(queuedEnd)).toBe('turn.completed');
      const movedTo = cluster.nodeOf(outputOf(queuedEnd));
      expect(movedTo?.nodeId, 'the queued turn ran on another node').not.toBe(runner.nodeId);
      await exit;
      expect(runner.lines.some((l) => l.includes('"closed":true')), `${runner.nodeId} closed cleanly: ${runner.stderr()}`).toBe(true);
      stopped.push(`${runner.nodeId}→${movedTo?.nodeId}`);
      await cluster.restart(runner.index);
    }
    const log = await serverLog(cluster.nodes[0]!.url, sessionId);
    expect(log.filter((e) => e.type === 'turn.error')).toEqual([]);
    await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq === log.at(-1)!.seq)));
    for (const w of watchers) {
      const events = w.events.map((e) => e.event);
      expect({ name: w.name, ...compareWithLog(events, log) }).toEqual({ name: w.name, lost: 0, duplicated: 0, outOfOrder: 0, differing: 0, resets: 0 });
      expect([...terminalsByTurn(events).values()].map((list) => list.length)).toEqual(Array.from({ length: 2 * ROUNDS }, () => 1));
    }
    console.log(`rolling deploy ×${ROUNDS}: stopped runner → node that took the queued turn: ${stopped.join(', ')}`);
  } finally {
    await Promise.all(watchers.map((w) => w.close()));
  }
});
