// Live streaming (issue 9): one session streaming N deltas live (the agent
// yields as fast as the server takes them) to one WebSocket subscriber; the
// server's CPU time per event (its process.cpuUsage, user + system) against a
// raw `ws` server that sends the same events one frame each, in the same run.
// Three rounds each, alternating, for the spread. The reader is a plain `ws`
// client in this process for both, counting deltas.
//
//   node bench/figures/live-streaming.mjs [--quick]
import { fork } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import { BENCH_DIR, askServer, benchPrompt, emit, http, parseArgs, startServerChild, withTimeout } from '../lib/common.mjs';
import { spread } from '../lib/storage.mjs';

const args = parseArgs();
const N = args.quick ? 50_000 : 200_000;
const SIZE = 20;
const ROUNDS = 3;

const cpuMicros = (a, b) => b.user - a.user + (b.system - a.system);

/** Open a ws to `url`, run `start(ws)`, resolve once `count` deltas arrived. */
function read(url, count, start) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      let deltas = 0;
      ws.on('error', reject);
      ws.on('open', () => start(ws));
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.type === 'welcome') start(ws, frame);
        if (frame.type === 'events') for (const ev of frame.events) if (ev.type === 'turn.delta') deltas++;
        if (deltas >= count) {
          ws.close(1000);
          resolve();
        }
      });
    }),
    300_000,
    'live stream',
  );
}

async function sdkRound(server) {
  const base = server.url;
  const session = await http.createSession(base);
  const u = new URL('/v1/ws', base);
  u.protocol = 'ws:';
  let turn;
  const before = await askServer(server.child, 'cpu');
  const t0 = performance.now();
  await read(u.href, N, (ws, welcome) => {
    if (!welcome) return;
    ws.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: session.id, after: 0 }));
    void http.prompt(base, session.id, benchPrompt(N, { size: SIZE, hold: true })).then((t) => (turn = t));
  });
  const after = await askServer(server.child, 'cpu');
  const ms = performance.now() - t0;
  while (!turn) await new Promise((r) => setTimeout(r, 5));
  await http.cancel(base, session.id, turn.id);
  return { us: cpuMicros(before, after) / N, ms };
}

async function rawRound(raw) {
  const before = await askServer(raw.child, 'cpu');
  const t0 = performance.now();
  await read(raw.url.replace('http', 'ws'), N, (ws, welcome) => {
    if (welcome === undefined) ws.send(JSON.stringify({ count: N, size: SIZE }));
  });
  const after = await askServer(raw.child, 'cpu');
  return { us: cpuMicros(before, after) / N, ms: performance.now() - t0 };
}

const server = await startServerChild({ serverOptions: { maxEventsPerSession: 10_000 } });
const rawChild = fork(path.join(BENCH_DIR, 'lib', 'raw-ws-server.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const rawUrl = await new Promise((resolve) => rawChild.once('message', (m) => resolve(m.url)));
const raw = { child: rawChild, url: rawUrl };
try {
  const sdk = [];
  const base = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const s = await sdkRound(server);
    const b = await rawRound(raw);
    if (r === 0) continue; // warm-up
    sdk.push(s);
    base.push(b);
  }
  const ratio = spread(sdk.map((s, i) => s.us / base[i].us));
  const us = spread(sdk.map((s) => s.us));
  const baseUs = spread(base.map((b) => b.us));
  const rate = spread(sdk.map((s) => N / (s.ms / 1000)), 0);
  console.error(`  server ${us.text} µs/event, raw ws ${baseUs.text} µs/event, ratio ${ratio.text}`);
  emit({
    rows: [
      {
        figure: `live streaming, 1 session → 1 WebSocket subscriber (${N.toLocaleString('en-US')} deltas)`,
        sdk: `${us.median.toFixed(2)} µs/event`,
        baseline: `${baseUs.median.toFixed(2)} µs/event (raw ws, one frame per event)`,
        ratio: ratio.median,
        target: 'reported',
        pass: true,
        command: 'node bench/run.mjs --only live-streaming',
        note: `server process CPU (user + system) per delta while the agent streams live to one subscriber (memoryStore, retention 10,000), ${ROUNDS} rounds after a warm-up: ratio ${ratio.text}; server ${us.text} µs, raw ${baseUs.text} µs; ${rate.text} events/s delivered. The server batches several events per frame; the raw server sends one frame each`,
      },
    ],
  });
} finally {
  await server.close();
  rawChild.kill();
}
