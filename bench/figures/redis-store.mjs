// Redis store vs memory store (issue 10): one session streaming N deltas live
// (the agent yields as fast as the server takes them) to one WebSocket
// subscriber, on a server child with `redisStore` and on one with
// `memoryStore`, in the same run, rounds alternating after a warm-up. The
// figure is the median per-round ratio of delivered events/s (redis/memory)
// with its spread; server CPU per event for both, and Redis's own CPU.
//
//   node bench/figures/redis-store.mjs [--quick] [--rounds N]
import { emit, parseArgs, startServerChild } from '../lib/common.mjs';
import { liveSession, processCpuMicros, serversCpuMicros, startRedis } from '../lib/cluster.mjs';
import { spread } from '../lib/storage.mjs';

const args = parseArgs();
const N = args.quick ? 5_000 : 20_000;
const ROUNDS = args.rounds ?? (args.quick ? 3 : 5);
const SIZE = 20;

// Both stores keep the whole turn: with a shorter retention a reader that fell behind by more
// than it (a busy machine) was reset past trimmed deltas, and the round never counted them all.
const RETAINED = N + 100;
const redis = await startRedis();
const servers = {
  memory: await startServerChild({ serverOptions: { maxEventsPerSession: RETAINED } }),
  redis: await startServerChild({ serverOptions: { maxEventsPerSession: RETAINED, redisStore: { url: redis.url } } }),
};
try {
  const samples = { memory: [], redis: [] };
  for (let r = 0; r < ROUNDS + 1; r++) {
    for (const kind of ['memory', 'redis']) {
      const server = servers[kind];
      const cpu0 = await serversCpuMicros([server]);
      const redis0 = processCpuMicros(redis.pid);
      const { ms } = await liveSession({ subscribeUrl: server.url, count: N, size: SIZE });
      const sample = { rate: N / (ms / 1000), us: ((await serversCpuMicros([server])) - cpu0) / N, redisUs: (processCpuMicros(redis.pid) - redis0) / N };
      if (r > 0) samples[kind].push(sample); // round 0 warms up
      console.error(`  round ${r}${r === 0 ? ' (warm-up)' : ''} ${kind.padEnd(6)} ${Math.round(sample.rate)} ev/s, server ${sample.us.toFixed(1)} µs/ev${kind === 'redis' ? `, redis-server ${sample.redisUs.toFixed(1)} µs/ev` : ''}`);
    }
  }
  const ratio = spread(samples.redis.map((s, i) => s.rate / samples.memory[i].rate));
  const rate = (kind) => spread(samples[kind].map((s) => s.rate), 0);
  const us = (kind) => spread(samples[kind].map((s) => s.us), 1);
  const redisUs = spread(samples.redis.map((s) => s.redisUs), 1);
  emit({
    rows: [
      {
        figure: `Redis store, 1 session live → 1 WebSocket subscriber (${N.toLocaleString('en-US')} deltas)`,
        sdk: `${Math.round(rate('redis').median).toLocaleString('en-US')} ev/s`,
        baseline: `${Math.round(rate('memory').median).toLocaleString('en-US')} ev/s (memoryStore)`,
        ratio: ratio.median,
        target: '≥ 0.5×',
        pass: ratio.median >= 0.5,
        command: 'node bench/run.mjs --only redis-store',
        note: `${ROUNDS} rounds after a warm-up, alternating: ratio ${ratio.text}; redis ${rate('redis').text} ev/s, memory ${rate('memory').text} ev/s; server CPU ${us('redis').text} µs/event (redis) vs ${us('memory').text} (memory); redis-server itself ${redisUs.text} µs/event. Redis on loopback, persistence off`,
      },
    ],
  });
} finally {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await redis.close();
}
