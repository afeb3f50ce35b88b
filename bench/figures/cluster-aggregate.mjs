// Aggregate over a cluster (issue 10): 3 server children on one Redis, 100
// sessions streaming at once, each subscribed over a WebSocket to one node
// and prompted through another (chosen round-robin, so every session crosses
// nodes: its events reach the subscriber through Redis), against the same 100
// sessions on ONE server child with the memory store, in the same run, rounds
// alternating after a warm-up. Reported: delivered events/s over all sessions,
// the CPU the servers (and redis-server) spent per delivered event, and how
// the runners' lease renewals went (the latest renewal, the longest a lease went
// unrenewed, leases given up) and the longest event-loop stall of a server.
//
//   [BENCH_LEASE_TTL_MS=3000] node bench/figures/cluster-aggregate.mjs [--quick] [--rounds N]
import os from 'node:os';
import { askServer, emit, parseArgs, startServerChild } from '../lib/common.mjs';
import { liveSession, processCpuMicros, serversCpuMicros, startRedis } from '../lib/cluster.mjs';
import { spread } from '../lib/storage.mjs';

const args = parseArgs();
const NODES = 3;
const SESSIONS = 100;
const PER_SESSION = args.quick ? 200 : 1_000;
const ROUNDS = args.rounds ?? 3;

const redis = await startRedis();
const nodes = [];
// The default lease (3 s, renewed every quarter of it on a connection of its own) unless
// BENCH_LEASE_TTL_MS says otherwise: at a load average above ~9 on 2 cores the nodes' event
// loops stall for 2 s and more, and 3 s leases lapse (docs/benchmarks.md).
const LEASE_TTL_MS = Number(process.env.BENCH_LEASE_TTL_MS) || 3000;
for (let i = 0; i < NODES; i++) nodes.push(await startServerChild({ serverOptions: { redisStore: { url: redis.url, cluster: { leaseTtlMs: LEASE_TTL_MS } } } }));
const single = await startServerChild({ serverOptions: {} });

/** One round: SESSIONS sessions streaming at once; `subscribeAt(s)`/`promptAt(s)` pick the node of session s. */
async function round(servers, subscribeAt, promptAt) {
  const cpu0 = await serversCpuMicros(servers);
  const redis0 = processCpuMicros(redis.pid);
  const t0 = performance.now();
  await Promise.all(servers.map((s) => askServer(s.child, 'loop')));
  const settled = await Promise.allSettled(Array.from({ length: SESSIONS }, (_, s) => liveSession({ subscribeUrl: subscribeAt(s), promptUrl: promptAt(s), count: PER_SESSION })));
  const ms = performance.now() - t0;
  const runs = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors = settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason?.message ?? r.reason).slice(0, 200)] : []));
  for (const error of new Set(errors)) console.error(`    failed session: ${error}`);
  const events = runs.reduce((sum, run) => sum + run.deltas, 0);
  const loops = await Promise.all(servers.map((s) => askServer(s.child, 'loop')));
  return {
    failed: errors.length,
    loopMaxMs: Math.max(...loops.map((l) => l.maxMs)),
    rate: events / (ms / 1000),
    us: ((await serversCpuMicros(servers)) - cpu0) / events,
    redisUs: (processCpuMicros(redis.pid) - redis0) / events,
  };
}

try {
  const samples = { cluster: [], memory: [] };
  for (let r = 0; r < ROUNDS + 1; r++) {
    const order = r % 2 === 0 ? ['cluster', 'memory'] : ['memory', 'cluster'];
    for (const kind of order) {
      const load = os.loadavg()[0].toFixed(1);
      const sample =
        kind === 'cluster'
          ? await round(nodes, (s) => nodes[s % NODES].url, (s) => nodes[(s + 1) % NODES].url)
          : await round([single], () => single.url, () => single.url);
      if (r > 0) samples[kind].push(sample);
      console.error(
        `  round ${r}${r === 0 ? ' (warm-up)' : ''} ${kind.padEnd(7)} ${Math.round(sample.rate)} ev/s, servers ${sample.us.toFixed(1)} µs/ev` +
          `${kind === 'cluster' ? `, redis-server ${sample.redisUs.toFixed(1)} µs/ev` : ''}, longest event-loop stall ${Math.round(sample.loopMaxMs)} ms, ` +
          `${sample.failed} sessions failed (load ${load})`,
      );
    }
  }
  const leases = (await Promise.all(nodes.map((n) => askServer(n.child, 'leases')))).filter(Boolean);
  const sum = (key) => leases.reduce((total, l) => total + l[key], 0);
  const max = (key) => Math.max(...leases.map((l) => l[key]));
  const leaseText =
    `lease renewals (3 nodes): ${sum('renewals')} rounds, ${sum('late')} late (> 1/3 TTL), slowest timer ${max('maxTimerLagMs')} ms late, ` +
    `slowest round trip ${max('maxRoundTripMs')} ms, longest unrenewed ${max('maxSpanMs')} ms of ${LEASE_TTL_MS.toLocaleString('en-US')}; leases given up: ${sum('expired')} expired, ${sum('taken')} taken`;
  console.error(`  ${leaseText}`);
  const all = [...samples.cluster, ...samples.memory];
  const failed = all.reduce((sum, s) => sum + s.failed, 0);
  const stall = (kind) => Math.round(Math.max(...samples[kind].map((s) => s.loopMaxMs)));
  const ratio = spread(samples.cluster.map((s, i) => s.rate / samples.memory[i].rate));
  const cpuRatio = spread(samples.cluster.map((s, i) => s.us / samples.memory[i].us));
  const rate = (kind) => spread(samples[kind].map((s) => s.rate), 0);
  const us = (kind) => spread(samples[kind].map((s) => s.us), 1);
  const redisUs = spread(samples.cluster.map((s) => s.redisUs), 1);
  emit({
    rows: [
      {
        figure: `cluster: ${SESSIONS} sessions on ${NODES} nodes + 1 Redis (${PER_SESSION.toLocaleString('en-US')} deltas each)`,
        sdk: `${Math.round(rate('cluster').median).toLocaleString('en-US')} ev/s; ${us('cluster').median.toFixed(1)} µs server CPU/event (+ redis-server ${redisUs.median.toFixed(1)})`,
        baseline: `${Math.round(rate('memory').median).toLocaleString('en-US')} ev/s; ${us('memory').median.toFixed(1)} µs server CPU/event (1 node, memoryStore)`,
        ratio: ratio.median,
        target: 'reported',
        pass: failed === 0,
        command: 'node bench/run.mjs --only cluster-aggregate',
        note:
          `${ROUNDS} rounds after a warm-up, cluster and single node alternating; every cluster session subscribed on one node and prompted through the next, ` +
          `so its events cross nodes through Redis; events/s cluster ÷ single ${ratio.text}; server CPU per event cluster ÷ single ${cpuRatio.text}; ` +
          `cluster ${rate('cluster').text} ev/s, ${us('cluster').text} µs/event (3 servers together), redis-server ${redisUs.text} µs/event; ` +
          `single memory-store node ${rate('memory').text} ev/s, ${us('memory').text} µs/event; lease TTL ${LEASE_TTL_MS.toLocaleString('en-US')} ms; ${leaseText}; longest event-loop stall of a server: cluster ${stall('cluster')} ms, single ${stall('memory')} ms; sessions failed: ${failed}`,
      },
    ],
  });
} finally {
  await Promise.all([...nodes, single].map((n) => n.close()));
  await redis.close();
}
