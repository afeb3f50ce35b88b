// Slow consumer (F6): a turn of 200k deltas streams as fast as the server
// goes; the reader takes the first 10 events, then stalls 10 s without
// pulling, then reads the rest. Reported: the heap the client holds at the end
// of the stall (after GC; this process holds the client only, the server runs
// in a child; the sampled peak of heapUsed, garbage included, is in the note),
// whether the text is exact afterwards (the deltas the
// reader got, concatenated, === turn.completed.output; hashed incrementally so
// the reader itself holds no text), how many delta events the 200k deltas were
// coalesced into, and whether the connection stayed up.
//
// Deltas are 3 bytes here (token-sized, like real LLM deltas) rather than 100:
// the text stays small (600 KB), so what the figure shows is the client's own
// per-event overhead while it buffers and coalesces, not the text itself.
//
// Baseline: a raw `ws` client whose app queue holds what arrives while the
// app is stalled (the naive approach). Needs --expose-gc.
//
//   node --expose-gc bench/figures/slow-consumer.mjs [--quick]
import WebSocket from 'ws';
import { createHash } from 'node:crypto';
import { createClient } from '../../dist/index.js';
import { parseArgs, startServerChild, http, benchPrompt, emit, fmt, sleep, withTimeout, settledHeap, sampler } from '../lib/common.mjs';

if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const args = parseArgs();
const N = 200_000;
const SIZE = 3;
const STALL_MS = args.quick ? 5_000 : 10_000;
const BUFFER_LIMIT = 1000; // the client's default bufferLimit (events per unread consumer)

const sha = (s) => createHash('sha256').update(s).digest('hex');

const server = await startServerChild({ execArgv: ['--max-old-space-size=3072'] });
try {
  const base = server.url;
  const prompt = benchPrompt(N, { size: SIZE });

  // ---- raw baseline: events arriving during the stall pile up in the app's queue.
  let raw;
  {
    const session = await http.createSession(base);
    const u = new URL('/v1/ws', base);
    u.protocol = 'ws:';
    u.searchParams.set('clientId', 'raw-slow');
    const ws = new WebSocket(u.href, { maxPayload: 64 * 1048576 });
    const queue = [];
    await new Promise((r) =>
      ws.on('message', function onWelcome(d) {
        if (JSON.parse(d.toString()).type === 'welcome') ws.off('message', onWelcome), r();
      }),
    );
    ws.send(JSON.stringify({ type: 'subscribe', id: '1', sessionId: session.id, after: 0 }));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'events') for (const ev of f.events) queue.push(ev);
    });
    const h0 = await settledHeap();
    const stopPeak = sampler();
    const turn = await http.prompt(base, session.id, prompt);
    await sleep(STALL_MS);
    const held = (await settledHeap()) - h0;
    await http.waitTurn(base, session.id, turn.id);
    await sleep(200);
    const hash = createHash('sha256');
    let output;
    for (const ev of queue) {
      if (ev.type === 'turn.delta') hash.update(ev.text);
      if (ev.type === 'turn.completed') output = ev.output;
    }
    const peak = stopPeak() - h0;
    ws.close(1000);
    raw = { peak, held, exact: output !== undefined && hash.digest('hex') === sha(output) };
    queue.length = 0;
    console.error(`  raw ws + app queue: held after the stall ${fmt.mb(held)}, peak heapUsed +${fmt.mb(peak)}, exact ${raw.exact}`);
  }

  // ---- SDK: iterate the turn, stall after the first 10 events.
  const client = createClient({ baseUrl: base });
  const states = [];
  const errors = [];
  client.on('state', (s) => states.push(`${s.status}${s.transport ? '/' + s.transport : ''}`));
  client.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  const session = await client.createSession();
  {
    // warm-up: load and JIT the client paths before the baseline heap reading.
    const t = await session.prompt(benchPrompt(1000, { size: SIZE }));
    for await (const _ of t);
  }
  const h0 = await settledHeap();
  const stopPeak = sampler();
  const t0 = performance.now();
  const statesBefore = states.length;
  const turn = await session.prompt(prompt);
  const hash = createHash('sha256');
  let textBytes = 0;
  let deltaEvents = 0;
  let seen = 0;
  let held = NaN;
  await withTimeout(
    (async () => {
      for await (const ev of turn) {
        if (ev.type === 'turn.delta') {
          hash.update(ev.text);
          textBytes += ev.text.length;
          deltaEvents++;
        }
        if (++seen === 10) {
          await sleep(STALL_MS);
          held = (await settledHeap()) - h0; // what the client holds for the stalled reader
        }
      }
    })(),
    STALL_MS + 120_000,
    'slow consumer',
  );
  const ms = performance.now() - t0;
  const result = await turn.result;
  const peak = stopPeak() - h0;
  const exact = result.type === 'turn.completed' && textBytes === N * SIZE && hash.digest('hex') === sha(result.output);
  const stateChanges = states.slice(statesBefore);
  const reconnects = stateChanges.filter((s) => s.startsWith('reconnecting')).length;
  await client.close();
  const during = stateChanges.join(' → ') || 'none';
  console.error(`  sdk: held after the stall ${fmt.mb(held)}, peak heapUsed +${fmt.mb(peak)}, exact ${exact} (${result.type}), ${deltaEvents} delta events for ${N} deltas, ${(ms / 1000).toFixed(1)} s, state changes: ${during}${errors.length ? `, errors: ${errors.join('; ')}` : ''}`);
  // The bound on what the client may hold for a stalled reader: bufferLimit events (at
  // ~1 KB each, generous) plus the turn's text twice (the coalesced pending delta and
  // turn.completed.output), plus 2 MB for a frame in flight.
  const bound = BUFFER_LIMIT * 1024 + 2 * N * SIZE + 2 * 1048576;
  emit({
    rows: [
      {
        figure: `slow consumer (${STALL_MS / 1000} s stall, ${N / 1000}k deltas)`,
        sdk: `holds ${fmt.mb(held)} (peak heapUsed +${fmt.mb(peak)}), text ${exact ? 'exact' : 'NOT exact'}`,
        baseline: `holds ${fmt.mb(raw.held)} (peak +${fmt.mb(raw.peak)}) (raw ws + app queue)`,
        ratio: raw.held > 0 ? held / raw.held : null,
        target: `≤ ${fmt.mb(bound)}, exact, no reconnect`,
        pass: exact && held <= bound && reconnects === 0,
        command: 'node bench/run.mjs --only slow-consumer',
        note: `heap held by the client at the end of the stall, after GC (the sampled peak of heapUsed, garbage included, was +${fmt.mb(peak)} vs raw +${fmt.mb(raw.peak)}); ${deltaEvents.toLocaleString('en-US')} delta events delivered for ${N.toLocaleString('en-US')} deltas of ${SIZE} bytes (coalesced); stalled ${STALL_MS} ms after 10 events; connection state changes during the turn: ${during}${errors.length ? `; client errors: ${errors.slice(0, 3).join('; ')}` : ''}; bound = bufferLimit × 1 KB + 2 × text + 2 MB; total ${(ms / 1000).toFixed(1)} s`,
      },
    ],
  });
} finally {
  await server.close();
}
