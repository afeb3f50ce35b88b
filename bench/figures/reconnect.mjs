// Reconnect: a subscription over the default client options (default ladder,
// default backoff) goes through the fault proxy of agent-tether/testing while a
// turn streams one delta every 5 ms. 21 times: wait until the connection has
// carried events for a while, reset every proxied connection (TCP RST), and
// time reset → first event delivered that the server created after the reset
// (event.time ≥ reset time, same machine clock). Zero lost: every seq arrives
// exactly once, in order, and the delta indices are contiguous.
// Measured twice in the same run: on the default ladder (WebSocket) and on SSE
// alone, so the SSE row has a same-run WebSocket baseline.
//
//   node bench/figures/reconnect.mjs [--quick]
import { createClient } from '../../dist/index.js';
import * as testing from '../../dist/testing.js';
import { parseArgs, median, startServerChild, http, benchPrompt, emit, fmt, sleep, withTimeout } from '../lib/common.mjs';

const args = parseArgs();
const RESETS = args.quick ? 7 : 21;
const SETTLE_MS = 1000; // connection carries events this long before the next reset
const PACE_MS = 5;

/** 21 resets of one client on `transports` (undefined: the default ladder): latencies and loss counts. */
async function measure(transports) {
const server = await startServerChild();
let proxy;
let client;
try {
  proxy = await testing.createFaultProxy({ target: server.url }).listen();
  const proxyUrl = proxy.url;
  client = createClient({ baseUrl: proxyUrl, transports });
  const session = await client.createSession();
  const turn = await http.prompt(server.url, session.id, benchPrompt(1_000_000, { paceMs: PACE_MS }));

  let last = 0;
  let lastDelta = -1;
  let lost = 0;
  let dup = 0;
  let waiter = null; // { since: wallMs, resolve }
  let terminal = null;
  const used = new Set();
  client.on('state', (s) => s.transport && used.add(s.transport));
  const sub = session.subscribe({ after: 0 });
  const reading = (async () => {
    for await (const ev of sub) {
      const now = performance.now();
      if (ev.seq <= last) dup++;
      else if (ev.seq > last + 1) lost += ev.seq - last - 1;
      last = Math.max(last, ev.seq);
      if (ev.type === 'turn.delta') {
        const i = Number(/^#(\d+):/.exec(ev.text)?.[1]);
        if (i !== lastDelta + 1) lost++;
        lastDelta = i;
      }
      if (waiter && ev.time >= waiter.since) {
        waiter.resolve(now);
        waiter = null;
      }
      if (ev.type === 'turn.canceled' || ev.type === 'turn.completed' || ev.type === 'turn.error') {
        terminal = ev;
        break;
      }
    }
  })();

  const latencies = [];
  await withTimeout(
    (async () => {
      while (lastDelta < 20) await sleep(20);
      for (let i = 0; i < RESETS; i++) {
        await sleep(SETTLE_MS);
        // +1: Date.now() has 1 ms steps; an event stamped in the reset's own millisecond may predate it.
        const got = new Promise((resolve) => (waiter = { since: Date.now() + 1, resolve }));
        const t0 = performance.now();
        const cut = proxy.reset();
        if (cut === 0) throw new Error('proxy.reset() found no connection to cut');
        const t1 = await withTimeout(got, 30_000, `reset ${i + 1}: no new event`);
        latencies.push(t1 - t0);
        console.error(`  reset ${String(i + 1).padStart(2)}/${RESETS}: first new event after ${(t1 - t0).toFixed(0)} ms (state ${client.state.status}/${client.state.transport})`);
      }
    })(),
    RESETS * 35_000,
    'reconnect loop',
  );
  await http.cancel(server.url, session.id, turn.id);
  await withTimeout(reading, 20_000, 'terminal after cancel');
  const snap = await http.snapshot(server.url, session.id);
  const missing = snap.session.seq - last;
  console.error(`  latencies (ms): ${latencies.map((x) => x.toFixed(0)).join(' ')}`);
  return {
    latencies,
    med: median(latencies),
    ok: lost === 0 && dup === 0 && missing === 0 && terminal?.type === 'turn.canceled',
    detail: `lost ${lost}, duplicated ${dup}, missing at end ${missing}, terminal ${terminal?.type}; ${snap.session.seq} events; transports used: ${[...used].join(', ')}`,
  };
} finally {
  await client?.close().catch(() => {});
  await proxy?.close().catch(() => {});
  await server.close();
}
}

const spread = (xs) => `min ${fmt.ms(Math.min(...xs))}, max ${fmt.ms(Math.max(...xs))}`;
console.error('  default ladder (WebSocket):');
const ws = await measure(undefined);
console.error('  SSE alone:');
const sse = await measure(['sse']);
emit({
  rows: [
    {
      figure: `reconnect (median of ${RESETS})`,
      sdk: fmt.ms(ws.med),
      baseline: '~890 ms (socket.io-client defaults, cited)',
      ratio: ws.med / 890,
      target: '≤ 500 ms, 0 lost',
      pass: ws.med <= 500 && ws.ok,
      command: 'node bench/run.mjs --only reconnect',
      note: `${spread(ws.latencies)}; ${ws.detail}`,
    },
    {
      figure: `reconnect over SSE (median of ${RESETS})`,
      sdk: fmt.ms(sse.med),
      baseline: `${fmt.ms(ws.med)} (WebSocket, same run)`,
      ratio: sse.med / ws.med,
      target: '≤ 500 ms, 0 lost',
      pass: sse.med <= 500 && sse.ok,
      command: 'node bench/run.mjs --only reconnect',
      note: `${spread(sse.latencies)}; ${sse.detail}; the server's retry: is a hint, the client's backoff (full jitter) decides`,
    },
  ],
});
