/**
 * The node that adopts a dead runner's session keeps serving the clients it already had:
 * a watcher subscribed on node B (over each transport) before node A, the runner, is
 * killed gets the `interrupted` terminal B appends when it takes over, and the next turn.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { clusterSuiteBinary, clusterStoreOptions, LEASE_TTL_MS } from './cluster-options.js';
import { diagnose } from './diagnose.js';
import { LADDERS, newSession, TERMINALS, watch, type Watcher } from './watchers.js';

const redisBinary = clusterSuiteBinary('cluster adoption');

/** Redis, two node processes and a warm spare start in seconds on a loaded 2-core machine. */
const START_TIMEOUT_MS = 90_000;
/** One kill: the lease TTL, the takeover and one more turn; ~10 s loaded, bounded well above. */
const TEST_TIMEOUT_MS = 120_000;

let cluster: Cluster;
beforeAll(async () => {
  if (redisBinary) cluster = await startCluster({ redisBinary, nodes: 2, store: clusterStoreOptions() });
}, START_TIMEOUT_MS);
afterAll(() => cluster?.close(), START_TIMEOUT_MS);

it.skipIf(!redisBinary)('watchers on the adopting node see the interrupted terminal and the next turn', { timeout: TEST_TIMEOUT_MS }, async () => {
  const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
  const sessionId = await newSession(a.url);
  const watchers: Watcher[] = LADDERS.map((ladder, i) => watch(b.url, sessionId, `onB${i}`, ladder));
  try {
    const prompter = watch(a.url, sessionId, 'onA', ['sse']);
    const turn = await prompter.rec.client.session(sessionId).prompt('run 400 20');
    const first = await Promise.all(watchers.map((w) => w.next((e) => e.type === 'turn.delta' && e.turnId === turn.id)));
    expect(cluster.nodeOf((first[0]!.event as { text: string }).text)?.nodeId).toBe(a.nodeId);
    await prompter.close();
    await cluster.stop(a.index, 'SIGKILL');
    const terminals = await Promise.all(
      watchers.map((w) => w.next((e) => TERMINALS.has(e.type) && (e as { turnId?: string }).turnId === turn.id, { timeoutMs: LEASE_TTL_MS + 10_000 })),
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await diagnose(cluster, sessionId, watchers)}`);
    });
    for (const t of terminals) expect(t.event).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
    const next = await watchers[0]!.rec.client.session(sessionId).prompt('hello');
    const ends = await Promise.all(watchers.map((w) => w.next((e) => e.type === 'turn.completed' && (e as { turnId?: string }).turnId === next.id)));
    expect(ends.map((e) => (e.event as { output: string }).output)).toEqual(watchers.map(() => `@${b.nodeId} ok`));
  } finally {
    await Promise.all(watchers.map((w) => w.close()));
  }
});
