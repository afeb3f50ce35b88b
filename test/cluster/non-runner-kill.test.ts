/**
 * Failover of the nodes clients are attached to: while a turn streams on one node,
 * a node that does not run it but holds client connections is killed (SIGKILL), 21
 * times. Its clients reconnect through the balancer to a survivor and resume from
 * their cursor: no watcher loses or duplicates an event. The time from the kill to
 * the next event each watcher is given is printed (docs/reliability.md), not asserted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { clusterSuiteBinary, clusterStoreOptions } from './cluster-options.js';
import { compareWithLog, LADDERS, median, newSession, serverLog, TERMINALS, terminalsByTurn, watch, type Watcher } from './watchers.js';

const redisBinary = clusterSuiteBinary('cluster failover (non-runner killed)');
const KILLS = 21;

let cluster: Cluster;
beforeAll(async () => {
  if (redisBinary) cluster = await startCluster({ redisBinary, nodes: 3, strategy: 'round-robin', store: clusterStoreOptions() });
});
afterAll(() => cluster?.close());

it.skipIf(!redisBinary)(`non-runner node killed ×${KILLS}: attached clients resume on a survivor, nothing lost`, async () => {
  const sessionId = await newSession(cluster.url);
  // Two watchers per ladder: with round-robin over 3 nodes every node holds some.
  const watchers: Watcher[] = [...LADDERS, ...LADDERS].map((ladder, i) => watch(cluster.url, sessionId, `w${i}`, ladder));
  const toNext: number[] = [];
  const slowest: number[] = [];
  try {
    // One long turn, a delta every 20 ms, runs through every kill.
    const turn = await watchers[0]!.rec.client.session(sessionId).prompt('run 100000 20');
    const first = await Promise.all(watchers.map((w) => w.next((e) => e.type === 'turn.delta' && e.turnId === turn.id)));
    const runner = cluster.nodeOf((first[0]!.event as { text: string }).text)!;
    expect(runner).toBeDefined();
    for (let k = 0; k < KILLS; k++) {
      // A node that is not the runner and has connections open through the balancer.
      const counts = cluster.lb.connectionCounts();
      const victims = cluster.nodes.filter((n) => n.index !== runner.index && n.running && counts[n.index]! > 0);
      expect(victims.length, `connections per node ${JSON.stringify(counts)}`).toBeGreaterThan(0);
      const victim = victims[k % victims.length]!;
      const marks = watchers.map((w) => w.events.length);
      const killedAt = performance.now();
      await cluster.stop(victim.index, 'SIGKILL');
      const next = await Promise.all(watchers.map((w, i) => w.next(() => true, { from: marks[i] })));
      const times = next.map((n) => Math.max(0, n.at - killedAt));
      toNext.push(...times);
      slowest.push(Math.max(...times));
      await cluster.restart(victim.index);
    }
    const cancel = await watchers[1]!.rec.client.session(sessionId).turn(turn.id).cancel();
    expect(cancel).toEqual({ cancelled: true });
    const log = await serverLog(runner.url, sessionId);
    const lastSeq = log.at(-1)!.seq;
    expect(log.at(-1)).toMatchObject({ type: 'turn.canceled', turnId: turn.id });
    await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq === lastSeq)));
    for (const w of watchers) {
      const events = w.events.map((e) => e.event);
      expect({ name: w.name, ...compareWithLog(events, log) }).toEqual({ name: w.name, lost: 0, duplicated: 0, outOfOrder: 0, differing: 0, resets: 0 });
      expect(terminalsByTurn(events).get(turn.id)?.map((e) => e.type)).toEqual(['turn.canceled']);
      expect(events.filter((e) => TERMINALS.has(e.type))).toHaveLength(1);
    }
    console.log(
      `non-runner killed ×${KILLS} (${watchers.length} watchers): time from SIGKILL to the next delivered event — ` +
        `median over all watchers ${median(toNext).toFixed(0)} ms; median of the slowest watcher per kill ${median(slowest).toFixed(0)} ms, max ${Math.max(...slowest).toFixed(0)} ms`,
    );
  } finally {
    await Promise.all(watchers.map((w) => w.close()));
  }
});
