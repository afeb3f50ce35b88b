/**
 * Failover: the node running a turn is killed (SIGKILL) mid-turn, 21 times, in a
 * cluster of 3 nodes + 1 Redis behind the balancer (connections on random nodes).
 * Every watcher must see exactly one terminal for that turn, `turn.error`
 * `interrupted`; the next turn completes on a survivor; no watcher loses or
 * duplicates an event. The time from the kill to the terminal is printed against
 * the lease TTL (docs/reliability.md), never asserted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { compareWithLog, LADDERS, median, newSession, serverLog, TERMINALS, terminalsByTurn, watch, type Watcher } from './watchers.js';
import { LEASE_TTL_MS, clusterStoreOptions, clusterSuiteBinary } from './cluster-options.js';
import { diagnose } from './diagnose.js';

const redisBinary = clusterSuiteBinary('cluster failover (runner killed)');
const KILLS = 21;

let cluster: Cluster;
beforeAll(async () => {
  if (redisBinary) cluster = await startCluster({ redisBinary, store: clusterStoreOptions() });
}, 60_000);
afterAll(() => cluster?.close(), 30_000);

/**
 * Each of the 21 rounds takes the lease TTL, a restart of the killed node (seconds on a loaded
 * 2-core machine) and two turns: about 2 minutes in all, well inside this bound.
 */
const TEST_TIMEOUT_MS = 360_000;

it.skipIf(!redisBinary)(`runner killed mid-turn ×${KILLS}: exactly one terminal 'interrupted' everywhere, next turn on a survivor, nothing lost`, async () => {
  const sessionId = await newSession(cluster.url);
  const watchers: Watcher[] = LADDERS.map((ladder, i) => watch(cluster.url, sessionId, `w${i}`, ladder));
  const prompter = watchers[0]!;
  const toTerminal: number[] = [];
  const survivors: string[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      const from = watchers.map((w) => w.events.length);
      const turn = await prompter.rec.client.session(sessionId).prompt('run 400 20');
      // The runner says who it is in its first delta; every watcher must have it before the kill.
      const first = await Promise.all(watchers.map((w, i) => w.next((e) => e.type === 'turn.delta' && e.turnId === turn.id, { from: from[i] })));
      const runner = cluster.nodeOf((first[0]!.event as { text: string }).text);
      expect(runner, 'the first delta names the node running the turn').toBeDefined();
      const killedAt = performance.now();
      await cluster.stop(runner!.index, 'SIGKILL');
      const terminals = await Promise.all(
        watchers.map((w, i) => w.next((e) => TERMINALS.has(e.type) && (e as { turnId?: string }).turnId === turn.id, { from: from[i], timeoutMs: LEASE_TTL_MS + 15_000 })),
      ).catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await diagnose(cluster, sessionId, watchers)}`);
      });
      for (const t of terminals) {
        expect(t.event).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
        toTerminal.push(t.at - killedAt);
      }
      expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
      // The next turn completes on a node that is alive.
      const next = await prompter.rec.client.session(sessionId).prompt('hello');
      const end = await next.result;
      expect(end.type).toBe('turn.completed');
      const survivor = cluster.nodeOf((end as { output: string }).output);
      expect(survivor?.running, `turn after the kill ran on ${survivor?.nodeId}, which is alive`).toBe(true);
      survivors.push(survivor!.nodeId);
      await cluster.restart(runner!.index);
    }
    // Every watcher caught up with the whole log, each event once, in order, equal to the server's.
    const log = await serverLog(cluster.nodes.find((n) => n.running)!.url, sessionId);
    const lastSeq = log.at(-1)!.seq;
    await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq === lastSeq)));
    for (const w of watchers) {
      expect({ name: w.name, ...compareWithLog(w.events.map((e) => e.event), log) }).toEqual({ name: w.name, lost: 0, duplicated: 0, outOfOrder: 0, differing: 0, resets: 0 });
      const terminals = terminalsByTurn(w.events.map((e) => e.event));
      expect([...terminals.values()].every((list) => list.length === 1), `${w.name}: one terminal per turn`).toBe(true);
      expect(terminals.size).toBe(2 * KILLS);
    }
    console.log(
      `runner killed ×${KILLS}: time from SIGKILL to 'interrupted' at ${watchers.length} watchers — median ${median(toTerminal).toFixed(0)} ms, ` +
        `max ${Math.max(...toTerminal).toFixed(0)} ms (lease TTL ${LEASE_TTL_MS} ms); next turn ran on ${survivors.join(' ')}`,
    );
  } finally {
    await Promise.all(watchers.map((w) => w.close()));
  }
}, TEST_TIMEOUT_MS);
