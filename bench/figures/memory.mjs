// Memory: one subscription reads 1M deltas promptly (a live turn, the agent
// yielding 100-byte deltas as fast as the server takes them; once the reader
// has all of them the turn is canceled, so it ends with a small terminal
// instead of a 100 MB turn.completed.output). Heap growth after GC, measured
// in this process (the client only: the server runs in its own child), with
// the subscription still open and again after client.close(). Baseline: the
// same through a raw `ws` client that only JSON.parses. Needs --expose-gc.
//
//   node --expose-gc bench/figures/memory.mjs [--quick]
import WebSocket from 'ws';
import { createClient } from '../../dist/index.js';
import { parseArgs, startServerChild, http, benchPrompt, emit, fmt, sleep, withTimeout, settledHeap, sampler } from '../lib/common.mjs';

if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const args = parseArgs();
const N = args.quick ? 200_000 : 1_000_000;
const WARMUP = 2000;



/**
 * A reader's counters and one waiter: `when(test)` resolves once `test()` holds, checked
 * by `tick()` after events arrive (allocation-free when nothing waits, so the reader
 * adds no garbage of its own). A reset rejects: the reader fell behind the server's log.
 */
function counters() {
  const c = { deltas: 0, deltaEvents: 0, terminals: 0, resets: 0, wait: null };
  c.tick = () => {
    const w = c.wait;
    if (w === null) return;
    if (c.resets > 0) (c.wait = null), w.reject(new Error('the stream was reset (history_gone): the reader fell behind the server log'));
    else if (w.test()) (c.wait = null), w.resolve();
  };
  c.when = (test, ms, what) =>
    withTimeout(new Promise((resolve, reject) => ((c.wait = { test, resolve, reject }), c.tick())), ms, what);
  return c;
}

/** Prompt a held turn of `count` deltas, wait for the reader to get them all, cancel, wait for its terminal. */
async function oneTurn(base, sessionId, c, count, label) {
  const d0 = c.deltas;
  const t0 = c.terminals;
  const turn = await http.prompt(base, sessionId, benchPrompt(count, { hold: true }));
  await c.when(() => c.deltas >= d0 + count, 600_000, `${label}: deltas`);
  await http.cancel(base, sessionId, turn.id);
  await c.when(() => c.terminals >= t0 + 1, 60_000, `${label}: terminal`);
}

// The agent here produces faster than any client reads, so a reader's lag grows; the
// server keeps the whole turn in its log (the default keeps 10 000 events) so that the
// lagging connection catches up by cursor instead of getting a history_gone reset.
const server = await startServerChild({
  execArgv: ['--max-old-space-size=4096'],
  serverOptions: { maxEventsPerSession: N + 2 * WARMUP + 100 },
});
try {
  const base = server.url;

  // ---- raw baseline: ws + JSON.parse, counting only.
  let raw;
  {
    const session = await http.createSession(base);
    const u = new URL('/v1/ws', base);
    u.protocol = 'ws:';
    u.searchParams.set('clientId', 'raw-mem');
    const ws = new WebSocket(u.href);
    const c = counters();
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', id: '1', sessionId: session.id, after: 0 }));
      if (f.type === 'reset') c.resets++, c.tick();
      if (f.type === 'events') {
        for (const ev of f.events) {
          if (ev.type === 'turn.delta') c.deltas++;
          else if (ev.type === 'turn.canceled' || ev.type === 'turn.completed' || ev.type === 'turn.error') c.terminals++;
        }
        c.tick();
      }
    });
    await oneTurn(base, session.id, c, WARMUP, 'raw warm-up');
    const h0 = await settledHeap();
    const stopPeak = sampler();
    const t0 = performance.now();
    await oneTurn(base, session.id, c, N, 'raw');
    const ms = performance.now() - t0;
    const peak = stopPeak() - h0;
    const growth = (await settledHeap()) - h0;
    ws.close(1000);
    raw = { growth, peak, ms };
    console.error(`  raw ws: growth ${fmt.mb(growth)}, peak +${fmt.mb(peak)}, ${(ms / 1000).toFixed(1)} s`);
  }

  // ---- SDK: default client, session.subscribe().
  const client = createClient({ baseUrl: base });
  const session = await client.createSession();
  const c = counters();
  const sub = session.subscribe({ after: 0 });
  const reading = (async () => {
    for await (const ev of sub) {
      // A delta may stand for several (coalesced when the client's buffer is full): count bytes.
      if (ev.type === 'turn.delta') (c.deltas += ev.text.length / 100), c.deltaEvents++;
      else if (ev.type === 'turn.canceled' || ev.type === 'turn.completed' || ev.type === 'turn.error') c.terminals++;
      else if (ev.type === 'session.reset') c.resets++;
      c.tick();
    }
  })();
  await oneTurn(base, session.id, c, WARMUP, 'sdk warm-up');
  const h0 = await settledHeap();
  const stopPeak = sampler();
  const t0 = performance.now();
  await oneTurn(base, session.id, c, N, 'sdk');
  const ms = performance.now() - t0;
  const peak = stopPeak() - h0;
  const growth = (await settledHeap()) - h0;
  const states = client.state;
  const delivered = c.deltaEvents - WARMUP;
  sub.close();
  await client.close();
  await reading.catch(() => {});
  const afterClose = (await settledHeap()) - h0;
  await sleep(10);
  console.error(`  sdk: growth ${fmt.mb(growth)} (after close ${fmt.smb(afterClose)}), peak +${fmt.mb(peak)}, ${(ms / 1000).toFixed(1)} s, ${JSON.stringify(states)}`);
  emit({
    rows: [
      {
        figure: `memory (${N.toLocaleString('en-US')} deltas)`,
        sdk: fmt.smb(growth),
        baseline: `${fmt.smb(raw.growth)} (raw ws)`,
        ratio: null,
        target: '≤ 5 MB',
        pass: growth <= 5 * 1048576,
        command: 'node bench/run.mjs --only memory',
        note: `heap growth after GC with the subscription open; after close ${fmt.smb(afterClose)}; peak heapUsed during the turn, garbage included, +${fmt.mb(peak)} (raw +${fmt.mb(raw.peak)}); ${delivered < N ? `${delivered.toLocaleString('en-US')} delta events yielded for ${N.toLocaleString('en-US')} deltas (the rest coalesced by the client, F6)` : 'no delta coalesced'}; ${(ms / 1000).toFixed(1)} s (raw ${(raw.ms / 1000).toFixed(1)} s)`,
      },
    ],
  });
} finally {
  await server.close();
}
