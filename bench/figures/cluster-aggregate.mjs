// Aggregate over a cluster (issue 10): 3 server children on one Redis, 100
// sessions streaming at once, each subscribed over a WebSocket to one node
// and prompted through another (chosen round-robin, so every session crosses
// nodes: its events reach the subscriber through Redis). Reported: delivered
// events/s over all sessions, and the CPU the three servers (and
// redis-server) spent per delivered event. Three rounds for the spread.
//
//   node bench/figures/cluster-aggregate.mjs [--quick]
import { emit, parseArgs, startServerChild } from '../lib/common.mjs';
import { liveSession, processCpuMicros, serversCpuMicros, startRedis } from '../lib/cluster.mjs';
import { spread } from '../lib/storage.mjs';

const args = parseArgs();
const NODES = 3;
const SESSIONS = 100;
const PER_SESSION = args.quick ? 200 : 1_000;
const ROUNDS = args.rounds ?? 3;

const redis = await startRedis();
const nodes = [];
// A 10 s lease: with 100 sessions streaming flat out on 2 shared cores, renewals every second
// (the default 3 s lease) fell behind and runners lost their leases (docs/benchmarks.md).
const LEASE_TTL_MS = 10_000;
for (let i = 0; i < NODES; i++) nodes.push(await startServerChild({ serverOptions: { redisStore: { url: redis.url, cluster: { leaseTtlMs: LEASE_TTL_MS } } } }));
try {
  const samples = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const cpu0 = await serversCpuMicros(nodes);
    const redis0 = processCpuMicros(redis.pid);
    const t0 = performance.now();
    const runs = await Promise.all(
      Array.from({ length: SESSIONS }, (_, s) =>
        liveSession({ subscribeUrl: nodes[s % NODES].url, promptUrl: nodes[(s + 1) % NODES].url, count: PER_SESSION }),
      ),
    );
    const ms = performance.now() - t0;
    const events = runs.reduce((sum, run) => sum + run.deltas, 0);
    const sample = {
      rate: events / (ms / 1000),
      us: ((await serversCpuMicros(nodes)) - cpu0) / events,
      redisUs: (processCpuMicros(redis.pid) - redis0) / events,
    };
    if (r > 0) samples.push(sample);
    console.error(`  round ${r}${r === 0 ? ' (warm-up)' : ''}: ${Math.round(sample.rate)} ev/s, servers ${sample.us.toFixed(1)} µs/ev, redis-server ${sample.redisUs.toFixed(1)} µs/ev`);
  }
  const rate = spread(samples.map((s) => s.rate), 0);
  const us = spread(samples.map((s) => s.us), 1);
  const redisUs = spread(samples.map((s) => s.redisUs), 1);
  emit({
    rows: [
      {
        figure: `cluster: ${SESSIONS} sessions on ${NODES} nodes + 1 Redis (${PER_SESSION.toLocaleString('en-US')} deltas each)`,
        sdk: `${Math.round(rate.median).toLocaleString('en-US')} ev/s; ${us.median.toFixed(1)} µs server CPU/event`,
        baseline: `redis-server ${redisUs.median.toFixed(1)} µs CPU/event`,
        ratio: null,
        target: 'reported',
        pass: true,
        command: 'node bench/run.mjs --only cluster-aggregate',
        note: `${ROUNDS} rounds after a warm-up; every session subscribed on one node and prompted through the next, so its events cross nodes through Redis; lease TTL ${LEASE_TTL_MS} ms; delivered ${rate.text} events/s in total; CPU of the ${NODES} server processes together ${us.text} µs per delivered event; redis-server ${redisUs.text} µs/event`,
      },
    ],
  });
} finally {
  await Promise.all(nodes.map((n) => n.close()));
  await redis.close();
}
