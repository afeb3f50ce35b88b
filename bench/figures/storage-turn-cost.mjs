// Per-turn store cost (issue 9): a session of 1,000 short turns (3 deltas
// each) through a core on each store. The save cost of a turn is the time
// spent in the store's calls for it (appendEvents + saveTurn), measured
// around the store; the figure is the median of turns 990–1000 against the
// median of turns 10–20 of the same session (before: ~25×). Three sessions
// per store give the spread. The file store runs on tmpfs (/dev/shm) so the
// figure shows the server's work per turn, not the disk's fsync latency.
//
//   node bench/figures/storage-turn-cost.mjs [--quick]
import { emit, median, parseArgs } from '../lib/common.mjs';
import { makeStore, spread, startCore, turnEnded } from '../lib/storage.mjs';

const args = parseArgs();
const TURNS = args.quick ? 300 : 1000;
const ROUNDS = 3;
const late = [TURNS - 10, TURNS];
const early = [10, 20];

async function session(kind) {
  const { store, remove } = makeStore(kind, 'tether-turns-');
  try {
    let current = 0;
    const cost = new Float64Array(TURNS + 1);
    const timed = (fn) => async (...a) => {
      const t0 = performance.now();
      try {
        return await fn(...a);
      } finally {
        cost[current] += performance.now() - t0;
      }
    };
    const measured = { ...store, appendEvents: timed(store.appendEvents), saveTurn: timed(store.saveTurn) };
    const agent = async function* () {
      yield { type: 'delta', text: 'a short ' };
      yield { type: 'delta', text: 'reply of ' };
      yield { type: 'delta', text: 'a few words' };
    };
    const core = await startCore(measured, agent);
    const { id } = await core.createSession();
    for (let turn = 1; turn <= TURNS; turn++) {
      current = turn;
      const { turn: info } = await core.prompt(id, { prompt: `turn ${turn}` });
      await turnEnded(core, id, info.id, info.queuedSeq - 1);
      // Let the terminal's turn record land before the next turn is counted.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await core.shutdown();
    const pick = ([a, b]) => median(Array.from(cost.subarray(a, b + 1)));
    return { early: pick(early), late: pick(late) };
  } finally {
    remove();
  }
}

const rows = [];
for (const kind of ['memory', 'file']) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await session(kind));
  const ratios = spread(runs.map((x) => x.late / x.early));
  const ms = spread(runs.map((x) => x.late), 3);
  const base = spread(runs.map((x) => x.early), 3);
  console.error(`  ${kind}: late/early ${ratios.text}; late ${ms.text} ms, early ${base.text} ms`);
  rows.push({
    figure: `save cost per turn, ${kind}Store: turns ${late[0]}–${late[1]} vs ${early[0]}–${early[1]}`,
    sdk: `${ms.median.toFixed(3)} ms`,
    baseline: `${base.median.toFixed(3)} ms (turns ${early[0]}–${early[1]}, same session)`,
    ratio: ratios.median,
    target: '≤ 1.5×',
    pass: ratios.median <= 1.5,
    command: 'node bench/run.mjs --only storage-turn-cost',
    note: `median store time per turn (appendEvents + saveTurn), ${TURNS} turns of 3 deltas, ${ROUNDS} sessions: ratio ${ratios.text}; late ${ms.text} ms, early ${base.text} ms${kind === 'file' ? ' (tmpfs)' : ''}. Before: ~25× (17 ms → 424 ms at turn 300)`,
  });
}
emit({ rows });
