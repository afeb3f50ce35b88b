/**
 * Failover of the nodes clients are attached to: while a turn streams on one node (the
 * runner), a node that does not run it but holds every watcher's connection is killed
 * (SIGKILL), 21 times. The balancer drains the runner (no new connection reaches it), so
 * every watcher sits on a non-runner node and every reconnect lands on the other one.
 * Watchers reconnect with the client's default backoff and resume from their cursor: no
 * watcher loses or duplicates an event. The time from the kill to the first event each
 * watcher is given that the runner stored after the kill (so it cannot have been in flight on
 * the killed node's connection) is printed (docs/reliability.md), not asserted.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { clusterSuiteBinary, clusterStoreOptions, LEASE_TTL_MS } from './cluster-options.js';
import { diagnose } from './diagnose.js';
import { compareWithLog, LADDERS, median, newSession, serverLog, TERMINALS, terminalsByTurn, watch, type Watcher } from './watchers.js';

const redisBinary = clusterSuiteBinary('cluster failover (non-runner killed)');
const KILLS = 21;
/** Every watcher gets its next event this long after a kill at the latest (reconnect backoff + a loaded machine). */
const NEXT_EVENT_TIMEOUT_MS = 15_000;
/**
 * How long the watchers may take to all hold a connection to the node about to be killed. A
 * watcher that was given its next event can still be between connections (a long-poll between
 * two requests, a transport being replaced): CI once counted 7 of 8 at the instant of a kill.
 */
const PLACEMENT_TIMEOUT_MS = 10_000;

let cluster: Cluster;
beforeAll(async () => {
  if (redisBinary) cluster = await startCluster({ redisBinary, nodes: 3, strategy: 'round-robin', store: clusterStoreOptions() });
}, 60_000);
afterAll(() => cluster?.close(), 30_000);

/** Starts a long turn (a delta every 20 ms) through the balancer; resolves with its id and the node running it, from its first delta. */
async function startLongTurn(sessionId: string): Promise<{ turnId: string; runner: Cluster['nodes'][number] }> {
  const res = await fetch(`${cluster.url}/v1/sessions/${sessionId}/turns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'run 100000 20' }),
  });
  expect(res.status).toBe(201);
  const turnId = ((await res.json()) as { turn: { id: string } }).turn.id;
  for (let attempt = 0; attempt < 100; attempt++) {
    const log = await serverLog(cluster.nodes[0]!.url, sessionId);
    const first = log.find((e) => e.type === 'turn.delta' && e.turnId === turnId) as { text: string } | undefined;
    if (first) return { turnId, runner: cluster.nodeOf(first.text)! };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the long turn gave no delta within 5 s of polling');
}

/** The seq of the newest event the runner stored, read from the runner itself (a page after `after`, a seq the watchers already have). */
async function latestSeq(runnerUrl: string, sessionId: string, after: number): Promise<number> {
  const res = await fetch(`${runnerUrl}/v1/sessions/${sessionId}/poll?after=${after}&wait=0`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { events: Array<{ seq: number }>; next: number };
  return Math.max(after, body.next, ...body.events.map((e) => e.seq));
}

/** The highest seq any watcher was given. */
const seenSeq = (watchers: readonly Watcher[]) => Math.max(0, ...watchers.map((w) => (w.events.at(-1)?.event as { seq?: number } | undefined)?.seq ?? 0));

it.skipIf(!redisBinary)(
  `non-runner node killed ×${KILLS}: attached clients resume on a survivor, nothing lost`,
  async () => {
    const sessionId = await newSession(cluster.url);
    const { turnId, runner } = await startLongTurn(sessionId);
    expect(runner, 'the first delta names the node running the turn').toBeDefined();
    // No new connection reaches the runner from here on, and at first none reaches the second
    // non-runner either: every watcher sits on one node, so every kill cuts all of them off.
    const [first, second] = cluster.nodes.filter((n) => n.index !== runner.index);
    cluster.lb.drain(runner.index);
    cluster.lb.drain(second!.index);
    // Two watchers per ladder, with the client's default reconnect backoff (500 ms, full jitter).
    const watchers: Watcher[] = [...LADDERS, ...LADDERS].map((ladder, i) => watch(cluster.url, sessionId, `w${i}`, ladder, { reconnect: {} }));
    const toNext: number[] = [];
    const slowest: number[] = [];
    const placements: string[] = [];
    try {
      await Promise.all(watchers.map((w) => w.next((e) => e.type === 'turn.delta' && e.turnId === turnId)));
      cluster.lb.revive(second!.index);
      for (let k = 0; k < KILLS; k++) {
        // The watchers alternate between the two non-runner nodes: each kill takes the one they are on.
        const [victim, survivor] = k % 2 === 0 ? [first!, second!] : [second!, first!];
        const counts = await vi.waitFor(
          () => {
            const now = cluster.lb.connectionCounts();
            expect(now[victim.index], `kill ${k + 1}: every watcher on ${victim.nodeId}; connections per node ${JSON.stringify(now)}`).toBeGreaterThanOrEqual(watchers.length);
            expect(now[survivor.index], `kill ${k + 1}: connections per node ${JSON.stringify(now)}`).toBe(0);
            return now;
          },
          { timeout: PLACEMENT_TIMEOUT_MS, interval: 20 },
        );
        placements.push(counts.join('/'));
        // The newest event stored just before the kill: anything after it reached the watchers through a survivor.
        const storedBefore = await latestSeq(runner.url, sessionId, seenSeq(watchers));
        const killedAt = performance.now();
        await cluster.stop(victim.index, 'SIGKILL');
        // The killed node takes no connection until the next round: its watchers all move to the survivor.
        cluster.lb.drain(victim.index);
        const next = await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq > storedBefore, { timeoutMs: NEXT_EVENT_TIMEOUT_MS }))).catch(async (error: unknown) => {
          throw new Error(`kill ${k + 1}: ${String(error)}\n${await diagnose(cluster, sessionId, watchers)}`);
        });
        const times = next.map((n) => Math.max(0, n.at - killedAt));
        toNext.push(...times);
        slowest.push(Math.max(...times));
        // Restarted only now, so the new process does not compete for the CPU with the reconnects being timed.
        await cluster.restart(victim.index);
        cluster.lb.revive(victim.index);
      }
      const cancel = await watchers[1]!.rec.client.session(sessionId).turn(turnId).cancel();
      expect(cancel).toEqual({ cancelled: true });
      const log = await serverLog(runner.url, sessionId);
      const lastSeq = log.at(-1)!.seq;
      expect(log.at(-1)).toMatchObject({ type: 'turn.canceled', turnId });
      await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq === lastSeq)));
      for (const w of watchers) {
        const events = w.events.map((e) => e.event);
        expect({ name: w.name, ...compareWithLog(events, log) }).toEqual({ name: w.name, lost: 0, duplicated: 0, outOfOrder: 0, differing: 0, resets: 0 });
        expect(terminalsByTurn(events).get(turnId)?.map((e) => e.type)).toEqual(['turn.canceled']);
        expect(events.filter((e) => TERMINALS.has(e.type))).toHaveLength(1);
      }
      const sorted = [...toNext].sort((a, b) => a - b);
      console.log(
        `non-runner killed ×${KILLS} (${watchers.length} watchers on non-runner nodes, default reconnect backoff, lease TTL ${LEASE_TTL_MS} ms, ` +
          `${log.length} events): time from SIGKILL to the first event stored after it — median ${median(toNext).toFixed(0)} ms, ` +
          `p90 ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms over ${toNext.length}; ` +
          `slowest watcher per kill: median ${median(slowest).toFixed(0)} ms; connections per node before each kill ${placements.join(' ')}`,
      );
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
  },
  240_000,
);
