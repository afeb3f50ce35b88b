/**
 * Redis faults under a 3-node cluster: Redis restarted (AOF on, `appendfsync always`)
 * and Redis unreachable for a few seconds (the nodes' connections to it reset and
 * refused). Meanwhile requests answer 503 with `Retry-After` and a JSON body, open
 * event streams close so clients back off, no node crashes; once Redis is back
 * nothing that was acknowledged is missing and the session carries on.
 */
import { afterEach, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../support/cluster.js';
import { clusterSuiteBinary, clusterStoreOptions, LEASE_TTL_MS } from './cluster-options.js';
import { compareWithLog, LADDERS, newSession, serverLog, watch, type Watcher } from './watchers.js';

const redisBinary = clusterSuiteBinary('cluster under Redis faults');

/** A bound far above the lease TTL (the slowest stream, the runner's, ends once its lease lapsed); it was ~30 s to never before. */
const STREAMS_END_WITHIN_MS = 10 * LEASE_TTL_MS;
/** One outage: a cluster start, a few turns, the fault, the recovery; about 25 s on a loaded 2-core machine. */
const TEST_TIMEOUT_MS = 180_000;

let cluster: Cluster | undefined;
let watchers: Watcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.map((w) => w.close()));
  watchers = [];
  await cluster?.close();
  cluster = undefined;
}, 60_000);

/** Prompts through `c` and waits for the turn's terminal: an acknowledged, finished turn. */
async function completedTurn(w: Watcher, sessionId: string, prompt: string) {
  const turn = await w.rec.client.session(sessionId).prompt(prompt);
  return turn.result;
}

/** An SSE stream opened on `nodeUrl` directly; resolves `ended` when the server closes it. */
async function openStream(nodeUrl: string, sessionId: string): Promise<{ ended: Promise<void>; abort(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${nodeUrl}/v1/sessions/${sessionId}/events?after=0`, { signal: controller.signal });
  expect(res.status).toBe(200);
  const ended = (async () => {
    try {
      for await (const _chunk of res.body!) {
        // drain
      }
    } catch {
      // reset counts as closed too
    }
  })();
  return { ended, abort: () => controller.abort() };
}

/** While Redis is away: every node answers a create and a prompt 503 + Retry-After + JSON `store_unavailable`. */
async function expectUnavailable(c: Cluster, sessionId: string): Promise<void> {
  for (const node of c.nodes) {
    for (const [path, body] of [
      ['/v1/sessions', '{}'],
      [`/v1/sessions/${sessionId}/turns`, '{"prompt":"hello"}'],
    ] as const) {
      await expect
        .poll(async () => {
          const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const json = (await res.json().catch(() => undefined)) as { error?: { code?: string } } | undefined;
          return { node: node.nodeId, path: path.replace(sessionId, ':sid'), status: res.status, retryAfter: res.headers.get('retry-after') !== null, code: json?.error?.code };
        })
        .toEqual({ node: node.nodeId, path: path.replace(sessionId, ':sid'), status: 503, retryAfter: true, code: 'store_unavailable' });
    }
  }
}

/** Waits until a create succeeds again on every node (each reconnects to Redis on its own backoff). */
async function backAgain(c: Cluster): Promise<void> {
  for (const node of c.nodes) {
    await expect
      .poll(async () => (await fetch(`${node.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, { timeout: 20_000 })
      .toBe(201);
  }
}

async function outage(options: { appendOnly?: boolean; redisProxy?: boolean }, fault: (c: Cluster) => Promise<() => Promise<void>>) {
  cluster = await startCluster({ redisBinary: redisBinary!, ...options, store: clusterStoreOptions() });
  const c = cluster;
  const sessionId = await newSession(c.url);
  watchers = LADDERS.map((ladder, i) => watch(c.url, sessionId, `w${i}`, ladder));
  for (let i = 0; i < 3; i++) expect((await completedTurn(watchers[i % watchers.length]!, sessionId, `hello ${i}`)).type).toBe('turn.completed');
  const acknowledged = await serverLog(c.nodes[0]!.url, sessionId);
  const streams = await Promise.all(c.nodes.map((n) => openStream(n.url, sessionId)));

  const faultAt = Date.now();
  const endedAfterMs = streams.map((s) => s.ended.then(() => Date.now() - faultAt));
  const heal = await fault(c);
  await expectUnavailable(c, sessionId);
  // Open streams end, so their clients back off and come back later: the followers' at once,
  // the runner's once its lease lapsed (it can no longer renew it). Bounded far above that.
  let bound: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([Promise.all(endedAfterMs), new Promise<undefined>((r) => {
    bound = setTimeout(() => r(undefined), STREAMS_END_WITHIN_MS);
  })]);
  clearTimeout(bound);
  expect(ended, `every SSE stream ends within ${STREAMS_END_WITHIN_MS} ms of the fault`).toBeDefined();
  process.stderr.write(`redis-faults: SSE streams ended ${ended!.join(', ')} ms after the fault (lease TTL ${LEASE_TTL_MS} ms)\n`);
  expect(c.nodes.map((n) => n.running)).toEqual([true, true, true]);
  await heal();
  await backAgain(c);
  expect(c.nodes.map((n) => n.running)).toEqual([true, true, true]);
  const after = await serverLog(c.nodes[1]!.url, sessionId);
  expect(after.slice(0, acknowledged.length)).toEqual(acknowledged);
  // The session carries on, and every watcher ends with the whole log, once each.
  expect((await completedTurn(watchers[1]!, sessionId, 'after')).type).toBe('turn.completed');
  const log = await serverLog(c.nodes[2]!.url, sessionId);
  await Promise.all(watchers.map((w) => w.next((e) => 'seq' in e && e.seq === log.at(-1)!.seq, { timeoutMs: 30_000 })));
  for (const w of watchers) {
    expect({ name: w.name, ...compareWithLog(w.events.map((e) => e.event), log) }).toMatchObject({ name: w.name, lost: 0, duplicated: 0, outOfOrder: 0, differing: 0 });
  }
  for (const s of streams) s.abort();
}

it.skipIf(!redisBinary)('Redis restarted with AOF: 503 + Retry-After meanwhile, streams close, nothing acknowledged lost, no node crash', { timeout: TEST_TIMEOUT_MS }, async () => {
  await outage({ appendOnly: true }, async (c) => {
    await c.redis.stop();
    return async () => {
      // A few seconds down, as a restart on a busy machine takes.
      await new Promise((r) => setTimeout(r, 2000));
      await c.redis.start();
    };
  });
});

it.skipIf(!redisBinary)('Redis unreachable for a few seconds: 503 + Retry-After meanwhile, streams close, nothing acknowledged lost, no node crash', { timeout: TEST_TIMEOUT_MS }, async () => {
  await outage({ redisProxy: true }, async (c) => {
    const proxy = c.redisProxy!;
    proxy.refuseConnections(true);
    proxy.reset();
    return async () => {
      await new Promise((r) => setTimeout(r, 3000));
      proxy.heal();
    };
  });
});
