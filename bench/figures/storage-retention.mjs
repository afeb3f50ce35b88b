// Retention (issue 9): one turn of 1,000,000 deltas through a core on each
// store. Afterwards, with GC: the events the store holds for the session
// (loaded with no limit) against the retention, and the heap growth of this
// process (core + store) against the budget retention × 1 KB + 10 MB. The turn
// is canceled once every delta is stored, so it ends with a small terminal
// rather than a turn.completed repeating 1M deltas. Needs --expose-gc.
//
//   node --expose-gc bench/figures/storage-retention.mjs [--quick]
import { emit, fmt, parseArgs, settledHeap } from '../lib/common.mjs';
import { makeStore, startCore, turnEnded } from '../lib/storage.mjs';

if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const args = parseArgs();
const N = args.quick ? 200_000 : 1_000_000;
const RETENTION = 10_000;

async function run(kind) {
  const { store, remove, where } = makeStore(kind, 'tether-retention-');
  try {
    let produced = 0;
    const agent = async function* ({ signal }) {
      for (let i = 0; i < N; i++) {
        produced++;
        yield { type: 'delta', text: i.toString(36) };
      }
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    };
    const core = await startCore(store, agent, { maxEventsPerSession: RETENTION });
    const { id } = await core.createSession();
    const h0 = await settledHeap();
    const t0 = performance.now();
    const { turn } = await core.prompt(id, { prompt: 'x' });
    // Wait until the last delta is stored (visible), reading nothing: the log keeps only the retention.
    while ((await core.getSession(id)).seq < N + 2) await new Promise((resolve) => setTimeout(resolve, 20));
    await core.cancel(id, turn.id);
    await turnEnded(core, id, turn.id);
    const ms = performance.now() - t0;
    const growth = (await settledHeap()) - h0;
    const held = (await store.loadSession(id, { maxEvents: Number.MAX_SAFE_INTEGER })).events.length;
    await core.shutdown();
    return { kind, held, growth, ms, produced, where };
  } finally {
    remove();
  }
}

const results = [await run('memory'), await run('file')];
const budget = RETENTION * 1024 + 10 * 1048576;
const rows = [];
for (const r of results) {
  rows.push({
    figure: `retention, ${r.kind}Store (${N.toLocaleString('en-US')} deltas): events held`,
    sdk: r.held.toLocaleString('en-US'),
    baseline: `${RETENTION.toLocaleString('en-US')} (retention)`,
    ratio: r.held / RETENTION,
    target: '≤ retention + one batch (file: + one segment, 1/8)',
    pass: r.held <= RETENTION * (r.kind === 'file' ? 1.125 : 1) + 1000,
    command: 'node bench/run.mjs --only storage-retention',
    note: `${r.held.toLocaleString('en-US')} events held by the store after ${N.toLocaleString('en-US')} written (before: every event, 1,000,003 for memoryStore); ${(r.ms / 1000).toFixed(1)} s${r.kind === 'file' ? ` on ${r.where}` : ''}`,
  });
  rows.push({
    figure: `retention, ${r.kind}Store (${N.toLocaleString('en-US')} deltas): heap growth`,
    sdk: fmt.smb(r.growth),
    baseline: `${fmt.mb(budget)} (retention × 1 KB + 10 MB)`,
    ratio: r.growth / budget,
    target: '≤ 1.00×',
    pass: r.growth <= budget,
    command: 'node bench/run.mjs --only storage-retention',
    note: `heap after GC, core and store in one process, turn ended (before: 272 MB for memoryStore)`,
  });
  console.error(`  ${r.kind}: held ${r.held}, growth ${fmt.smb(r.growth)}, ${(r.ms / 1000).toFixed(1)} s`);
}
emit({ rows });
