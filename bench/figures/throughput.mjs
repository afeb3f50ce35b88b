// Event throughput: WebSocket, SSE and long-poll, SDK vs raw baselines.
//
// Method: the server child runs one turn of N deltas (100 bytes of text each)
// first, so the session log is pre-filled (the turn is then canceled, so its
// terminal is a small turn.canceled rather than a turn.completed whose output
// repeats all N deltas); every run then
// subscribes from after=0 and reads the same N+3 events from the same server
// process. This isolates client cost: the server does identical work (read the
// log, serialize, write) for the raw and the SDK run. Runs are interleaved
// (raw, sdk, raw, sdk, …) after one warm-up round; each figure is the median
// over 5 rounds of the per-round ratio sdk/raw, with the spread (min–max) of
// those ratios: never the best run.
//
//   node bench/figures/throughput.mjs [--quick] [--rounds N] [--runner sdk-ws]
//   (--runner runs one client only, for `node --cpu-prof`)
import { parseArgs, median, startServerChild, http, emit, fmt, withTimeout } from '../lib/common.mjs';
import { runners } from '../lib/clients.mjs';

const args = parseArgs();
const argv = process.argv.slice(2);
const only = argv.includes('--runner') ? argv[argv.indexOf('--runner') + 1].split(',') : null;
const N = args.quick ? 50_000 : 200_000;
const rounds = args.rounds ?? (args.quick ? 3 : 5);

// The log must hold every event of the run (the server's default retention is smaller).
const server = await startServerChild({ serverOptions: { maxEventsPerSession: N + 100 } });
try {
  const base = server.url;
  const session = await http.createSession(base);
  await http.prefill(base, session.id, N);
  const snap = await http.snapshot(base, session.id);
  const lastSeq = snap.session.seq;
  if (snap.session.firstSeq > 1) {
    throw new Error(`server holds seq ${snap.session.firstSeq}..${lastSeq} only: the bench needs the whole ${N}-delta log (memory store retention)`);
  }

  const pairs = [
    ['raw-ws', 'sdk-ws'],
    ['raw-sse', 'sdk-sse'],
    ['raw-poll', 'sdk-poll'],
  ];
  const order = only ?? pairs.flat();
  const samples = Object.fromEntries(order.map((n) => [n, []]));
  const run = async (name) => {
    const r = await withTimeout(runners[name](base, session.id, lastSeq), 120_000, name);
    if (r.events !== lastSeq) throw new Error(`${name}: ${r.events} events, expected ${lastSeq}`);
    return { rate: r.events / (r.ms / 1000), ms: r.ms, cpuUsPerEvent: (r.cpuMs * 1000) / r.events, coalesced: r.coalesced ?? 0, yielded: r.yielded ?? r.events };
  };
  for (const name of order) await run(name); // warm-up (JIT, connection pools)
  for (let i = 0; i < rounds; i++) {
    for (const name of order) {
      const s = await run(name);
      samples[name].push(s);
      console.error(`  round ${i + 1}/${rounds} ${name.padEnd(9)} ${fmt.rate(s.rate).padStart(14)}  ${s.cpuUsPerEvent.toFixed(2)} µs cpu/ev${s.coalesced ? `  (${s.coalesced} deltas coalesced)` : ''}`);
    }
  }
  if (only) {
    emit({ rows: [] });
  } else {
    const med = (name, key) => median(samples[name].map((s) => s[key]));
    const ratios = (a, b) => samples[a].map((s, i) => s.rate / samples[b][i].rate);
    const ratio = (a, b) => median(ratios(a, b));
    const spread = (a, b) => `ratio spread ${Math.min(...ratios(a, b)).toFixed(2)}–${Math.max(...ratios(a, b)).toFixed(2)}× over ${rounds} rounds`;
    const cpuRatio = (a, b) => med(a, 'cpuUsPerEvent') / med(b, 'cpuUsPerEvent');
    const cmd = `node bench/run.mjs --only throughput`;
    const coalesced = (sdk) => Math.max(...samples[sdk].map((s) => s.coalesced));
    const note = (sdk, raw) =>
      `${spread(sdk, raw)}; items delivered ${Math.min(...samples[sdk].map((s) => s.yielded))}–${Math.max(...samples[sdk].map((s) => s.yielded))} of ${lastSeq} events per run${coalesced(sdk) ? ` (up to ${coalesced(sdk)} deltas arrived coalesced)` : ''}; client CPU ${med(sdk, 'cpuUsPerEvent').toFixed(2)} vs ${med(raw, 'cpuUsPerEvent').toFixed(2)} µs/event (${cpuRatio(sdk, raw).toFixed(2)}×)`;
    const wsRatio = ratio('sdk-ws', 'raw-ws');
    const sseRatio = ratio('sdk-sse', 'raw-sse');
    const pollVsSse = ratio('sdk-poll', 'sdk-sse');
    emit({
      meta: { N, events: lastSeq, rounds },
      rows: [
        { figure: 'WebSocket throughput', sdk: fmt.rate(med('sdk-ws', 'rate')), baseline: `${fmt.rate(med('raw-ws', 'rate'))} (raw ws + JSON.parse)`, ratio: wsRatio, target: '≥ 0.90×', pass: wsRatio >= 0.9, command: cmd, note: note('sdk-ws', 'raw-ws') },
        { figure: 'SSE throughput', sdk: fmt.rate(med('sdk-sse', 'rate')), baseline: `${fmt.rate(med('raw-sse', 'rate'))} (fetch + eventsource-parser + JSON.parse)`, ratio: sseRatio, target: '≥ 0.85×', pass: sseRatio >= 0.85, command: cmd, note: note('sdk-sse', 'raw-sse') },
        { figure: 'long-poll throughput', sdk: `${fmt.rate(med('sdk-poll', 'rate'))} seqs covered; ${fmt.rate(median(samples['sdk-poll'].map((x) => x.yielded / (x.ms / 1000))))} items delivered`, baseline: `${fmt.rate(med('sdk-sse', 'rate'))} (SDK SSE); raw poll ${fmt.rate(med('raw-poll', 'rate'))}`, ratio: pollVsSse, target: '≥ 0.5× SSE', pass: pollVsSse >= 0.5, command: cmd, note: `${note('sdk-poll', 'raw-poll')}; vs raw poll ${ratio('sdk-poll', 'raw-poll').toFixed(2)}×` },
      ],
    });
  }
} finally {
  await server.close();
}
