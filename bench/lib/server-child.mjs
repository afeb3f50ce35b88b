// The reference server under benchmark, in its own process. Started by
// startServerChild() in common.mjs; reports its URL over IPC and closes on
// {cmd:'close'}. The agent streams what the prompt asks for: see benchPrompt().
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as server from '../../dist/server.js';
import { deltaText, sleep } from './common.mjs';

const opts = JSON.parse(process.argv[2] || '{}');

async function* benchAgent({ prompt, signal }) {
  const m = /^deltas:(\d+):(\d+):(\d+)(:hold)?$/.exec(prompt);
  if (!m) {
    yield { type: 'delta', text: `echo: ${prompt}` };
    return;
  }
  const [count, size, paceMs] = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) return;
    if (paceMs > 0) await sleep(paceMs);
    yield { type: 'delta', text: deltaText(i, size) };
  }
  // `hold`: keep the turn open until it is canceled, so that it ends with a
  // small turn.canceled instead of a turn.completed whose `output` repeats
  // every delta (20 MB for 200k deltas).
  if (m[4] && signal && !signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
}

const { memoryStore: storeOpts, redisStore: redisOpts, codex: codexOpts, ...rest } = opts;
// `codex: { url }`: the agent is the Codex bridge on that app-server instead of the bench agent.
const bridge = codexOpts ? (await import('../../dist/bridges/codex.js')).codexAgent(codexOpts) : undefined;

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

// The cluster figures read how this node's lease renewals went (`leases` below).
let cluster;
function redisStoreWithLeaseStats(options) {
  const store = server.redisStore(options);
  const make = store.cluster.bind(store);
  store.cluster = (clusterOptions) => (cluster = make(clusterOptions));
  return store;
}
// The benches open hundreds of connections and prompts from 127.0.0.1 on purpose: the
// per-client abuse limits (docs/security.md) would cap them, so they are lifted here unless a
// figure sets them. Limits have their own figures in bench/abuse/.
const LIFTED_LIMITS = { maxConnectionsPerClient: 1_000_000, promptsPerMinute: 1_000_000_000, sessionsPerMinute: 1_000_000_000, maxQueuedTurns: 1_000_000 };
const srv = server.createServer({
  agent: bridge ?? benchAgent,
  ...LIFTED_LIMITS,
  ...(storeOpts ? { store: server.memoryStore(storeOpts) } : {}),
  ...(redisOpts ? { store: redisStoreWithLeaseStats(redisOpts) } : {}),
  ...rest,
});
const { url } = await srv.listen(0, '127.0.0.1');
process.send({ url });
process.on('message', async (m) => {
  if (m?.cmd === 'close') {
    await srv.close();
    await bridge?.close();
    process.exit(0);
  } else if (m?.cmd === 'memory') {
    process.send({ reply: 'memory', value: process.memoryUsage() });
  } else if (m?.cmd === 'stats') {
    process.send({ reply: 'stats', value: srv.stats() });
  } else if (m?.cmd === 'loop') {
    // How long this process's event loop stalled since the last ask (what starves timers such as lease renewals).
    process.send({ reply: 'loop', value: { maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6 } });
    loopDelay.reset();
  } else if (m?.cmd === 'leases') {
    process.send({ reply: 'leases', value: cluster?.leaseStats?.() ?? null });
  } else if (m?.cmd === 'cpu') {
    process.send({ reply: 'cpu', value: process.cpuUsage() });
  }
});
process.on('disconnect', () => process.exit(0));
