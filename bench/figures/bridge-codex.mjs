// Codex through the bridge (issue 11). Needs the real codex binary (scripts/install-peers.sh)
// and a Node that runs the .ts test fixtures (22.18+ or 24: the project's own, as `npm run bench`).
//
// Four processes, so that neither path shares a thread with another's work: the project's mock
// LLM (bench/lib/mock-llm-child.mjs), `codex app-server`, our server with codexAgent
// (bench/lib/server-child.mjs), and this one, which holds the clients being measured.
//
// 1. Throughput: one Codex turn of N deltas from the mock LLM, read
//    (a) by a raw WebSocket client speaking Codex's JSON-RPC directly, and
//    (b) by an agent-tether client through our server + codexAgent,
//    after a warm-up turn on each path; rounds alternate which path goes first. Deltas/s from
//    turn/start (prompt) to turn/completed (result); figure: median of per-round bridge/raw
//    ratios with the min–max spread. CPU per delta of each process tells where time went.
// 2. Stalled reader: a turn of 40,000 deltas of 1.5 KB (60 MB: small deltas fit in the
//    kernel's socket buffers for 10 s and show nothing); the reader stops reading for 10 s after
//    its first delta. Raw: the socket is paused (`ws.pause()`), so Codex's outbound queue
//    fills and it drops the connection; reported: deltas received before the drop.
//    Bridge: the client's TCP connection to our server is stalled by a fault proxy for
//    10 s; reported: deltas lost (expected text minus received text) and how the turn ended.
//
//   node bench/figures/bridge-codex.mjs [--quick] [--rounds N] [--throughput-only]
//   BENCH_SERVER_PROF=/tmp/prof node bench/figures/bridge-codex.mjs --throughput-only   # profile the bridge's server
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient } from '../../dist/index.js';
import { createFaultProxy } from '../../dist/testing.js';
import { askServer, parseArgs, emit, fmt, median, sleep, startServerChild, withTimeout } from '../lib/common.mjs';
import { processCpuMicros } from '../lib/cluster.mjs';
import { startMockLlmChild } from '../lib/mock-llm-child.mjs';
import { scriptedText } from '../../test/bridges/fixtures/mock-llm.ts';
import { codexDirs, removeDirs, startCodexServer } from '../../test/bridges/fixtures/codex-app-server.ts';
import { findBinary } from '../../test/support/require-binary.ts';
import { CODEX } from '../../test/support/system-binaries.ts';

const args = parseArgs();
const N = args.quick ? 5_000 : 20_000;
const ROUNDS = args.rounds ?? (args.quick ? 3 : 7);
const STALL_N = 40_000;
const STALL_SIZE = 1500;
const STALL_MS = 10_000;
const THROUGHPUT_ONLY = process.argv.includes('--throughput-only');

const codexBin = findBinary(CODEX);
if (!codexBin.path) throw new Error(`${codexBin.looked}: run scripts/install-peers.sh`);

/** A raw JSON-RPC client on Codex's WebSocket, on a thread of its own. */
async function rawCodex(url, threadId) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1048576 });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  let id = 0;
  const pending = new Map();
  const listeners = new Set();
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.id !== undefined && !m.method) return pending.get(m.id)?.(m);
    for (const l of listeners) l(m);
  });
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const i = ++id;
      pending.set(i, (m) => (pending.delete(i), m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  await request('initialize', { clientInfo: { name: 'bench-raw', title: null, version: '0' }, capabilities: null });
  ws.send(JSON.stringify({ method: 'initialized' }));
  if (threadId === undefined) threadId = (await request('thread/start', {})).thread.id;
  return { ws, request, listeners, threadId };
}

/** One raw turn: deltas received, whether turn/completed came, whether the socket was dropped, ms. */
function rawTurn(raw, prompt, { pauseAfterFirst = 0 } = {}) {
  return new Promise((resolve) => {
    let deltas = 0;
    let t0 = performance.now();
    const done = (how) => {
      raw.listeners.delete(onMessage);
      resolve({ deltas, how, ms: performance.now() - t0 });
    };
    const onMessage = (m) => {
      if (m.method === 'item/agentMessage/delta') {
        if (++deltas === 1 && pauseAfterFirst) {
          raw.ws.pause(); // the reader stops reading; TCP fills, then Codex's queue
          setTimeout(() => raw.ws.resume(), pauseAfterFirst);
        }
      }
      if (m.method === 'turn/completed') done('completed');
    };
    raw.listeners.add(onMessage);
    raw.ws.once('close', (code) => done(`dropped (close ${code})`));
    t0 = performance.now();
    raw.request('turn/start', { threadId: raw.threadId, input: [{ type: 'text', text: prompt, text_elements: [] }] });
  });
}

/** One turn through the bridge: the text of its deltas, how it ended, ms from prompt to result. */
async function bridgeTurn(session, prompt) {
  const t0 = performance.now();
  const turn = await session.prompt(prompt);
  let text = '';
  let events = 0;
  for await (const ev of turn) if (ev.type === 'turn.delta') (text += ev.text), events++;
  const end = await turn.result;
  return { text, end, events, ms: performance.now() - t0 };
}

/** Bounded polling until Codex no longer runs a turn on `threadId` (a dropped raw reader's turn goes on). */
async function codexIdle(url, threadId, timeoutMs) {
  const raw = await rawCodex(url, threadId);
  try {
    await raw.request('thread/resume', { threadId, excludeTurns: true });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { data } = await raw.request('thread/turns/list', { threadId, limit: 1 });
      if (data[0]?.status !== 'inProgress') return;
      if (Date.now() > deadline) throw new Error(`Codex still runs a turn on ${threadId} after ${timeoutMs} ms`);
      await sleep(200);
    }
  } finally {
    raw.ws.terminate();
  }
}

const cpuOf = async (procs) => ({
  llm: processCpuMicros(procs.llm.pid),
  codex: processCpuMicros(procs.codex.process.pid),
  server: await askServer(procs.server.child, 'cpu').then((u) => u.user + u.system),
  client: ((u) => u.user + u.system)(process.cpuUsage()),
});
const cpuSince = (a, b) => {
  const d = Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
  return { ...d, all: d.llm + d.codex + d.server + d.client };
};
const perDelta = (xs, key) => median(xs.map((c) => c[key] / N));
const range = (xs, digits = 2) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

const us = (x) => x.toFixed(1);
const ROW_COMMAND = 'node bench/run.mjs --only bridge-codex';

/** Figure 1: rounds of one N-delta turn, raw and through the bridge; resolves with its row. */
async function throughput(procs) {
  const loadBefore = os.loadavg();
  const client = createClient({ baseUrl: procs.server.url });
  const session = await client.createSession();
  const raw = await rawCodex(procs.codex.url);
  const expected = scriptedText('d', N);
  const prompt = `deltas=${N}`;
  const runRaw = async () => {
    const c0 = await cpuOf(procs);
    const r = await withTimeout(rawTurn(raw, prompt), 300_000, 'raw turn');
    const cpu = cpuSince(c0, await cpuOf(procs));
    if (r.how !== 'completed' || r.deltas !== N) throw new Error(`raw turn: ${r.how}, ${r.deltas} deltas`);
    return { ms: r.ms, cpu };
  };
  const runBridge = async () => {
    const c0 = await cpuOf(procs);
    const b = await withTimeout(bridgeTurn(session, prompt), 300_000, 'bridge turn');
    const cpu = cpuSince(c0, await cpuOf(procs));
    if (b.end.type !== 'turn.completed' || b.text !== expected) throw new Error(`bridge turn: ${b.end.type}, text ${b.text === expected ? 'exact' : 'NOT exact'}`);
    return { ms: b.ms, cpu, events: b.events };
  };
  // Warm-up: JIT on both sides, Codex's threads loaded.
  await runRaw();
  await runBridge();
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    let r, b;
    if (round % 2 === 0) (r = await runRaw()), (b = await runBridge());
    else (b = await runBridge()), (r = await runRaw());
    rounds.push({ r, b, ratio: r.ms / b.ms });
    console.error(
      `  round ${round + 1} (${round % 2 === 0 ? 'raw first' : 'bridge first'}): raw ${fmt.rate((N / r.ms) * 1000)}, bridge ${fmt.rate((N / b.ms) * 1000)} (${(r.ms / b.ms).toFixed(2)}×); load ${os.loadavg()[0].toFixed(1)}`,
    );
  }
  raw.ws.close();
  await client.close();
  const ratios = rounds.map((x) => x.ratio);
  const rawRates = rounds.map((x) => (N / x.r.ms) * 1000);
  const bridgeRates = rounds.map((x) => (N / x.b.ms) * 1000);
  const rawCpu = rounds.map((x) => x.r.cpu);
  const bridgeCpu = rounds.map((x) => x.b.cpu);
  const ratio = median(ratios);
  return {
    figure: `Codex through the bridge (${N / 1000}k deltas)`,
    sdk: `${fmt.rate(median(bridgeRates))} (codexAgent + server + client)`,
    baseline: `${fmt.rate(median(rawRates))} (raw WebSocket client on Codex)`,
    ratio,
    ratioText: `${ratio.toFixed(2)}× (${range(ratios)}×, ${ROUNDS} rounds)`,
    target: '≥ 0.8×',
    pass: ratio >= 0.8,
    command: ROW_COMMAND,
    note:
      `deltas/s from turn/start (prompt) to turn/completed (result); median of ${ROUNDS} rounds after a warm-up turn on each path, alternating which path goes first; ` +
      `per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}; raw ${range(rawRates, 0)} ev/s, bridge ${range(bridgeRates, 0)} ev/s. ` +
      `Through the bridge the ${N.toLocaleString('en-US')} Codex deltas reached the client as ${range(rounds.map((x) => x.b.events), 0)} turn.delta events (deltas queued within 2 ms are joined), text exact. ` +
      `Mock LLM, Codex, our server + codexAgent and the clients each run in their own process; median CPU per delta, raw turn vs bridge turn: ` +
      `Codex ${us(perDelta(rawCpu, 'codex'))} vs ${us(perDelta(bridgeCpu, 'codex'))} µs, mock LLM ${us(perDelta(rawCpu, 'llm'))} vs ${us(perDelta(bridgeCpu, 'llm'))} µs, ` +
      `client ${us(perDelta(rawCpu, 'client'))} vs ${us(perDelta(bridgeCpu, 'client'))} µs, our server + bridge ${us(perDelta(bridgeCpu, 'server'))} µs (bridge turns only); ` +
      `all four processes ${us(perDelta(rawCpu, 'all'))} vs ${us(perDelta(bridgeCpu, 'all'))} µs (${(perDelta(rawCpu, 'all') / perDelta(bridgeCpu, 'all')).toFixed(2)}×: on a machine this loaded the processes share the cores, so the wall-clock ratio drifts toward this one). ` +
      `Load average ${loadBefore[0].toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after`,
  };
}

/** Figure 2: a reader stalled for STALL_MS, raw (Codex drops it) and through the bridge; resolves with its row. */
async function stalledReader(procs) {
  const rawStall = await rawCodex(procs.codex.url);
  const stalledRaw = await withTimeout(rawTurn(rawStall, `deltas=${STALL_N}:${STALL_SIZE}`, { pauseAfterFirst: STALL_MS }), 600_000, 'raw stalled turn');
  rawStall.ws.terminate();
  console.error(`  raw stalled reader: ${stalledRaw.how} after ${stalledRaw.deltas} of ${STALL_N} deltas`);
  // Codex runs that turn on without a reader: let it end before the bridge's turn competes with it.
  await codexIdle(procs.codex.url, rawStall.threadId, 300_000);

  // Through the bridge: the client's connection to our server stalled at TCP level.
  const proxy = await createFaultProxy({ target: procs.server.url }).listen();
  const client = createClient({ baseUrl: proxy.url });
  const session = await client.createSession();
  const t0 = performance.now();
  const turn = await session.prompt(`deltas=${STALL_N}:${STALL_SIZE}`);
  let text = '';
  let stalled = false;
  let firstMs = NaN;
  for await (const ev of turn) {
    if (ev.type !== 'turn.delta') continue;
    text += ev.text;
    if (!stalled) {
      firstMs = performance.now() - t0;
      stalled = true;
      proxy.stall(true);
      await sleep(STALL_MS);
      proxy.stall(false);
    }
  }
  const lastMs = performance.now() - t0;
  const end = await turn.result;
  const ms = performance.now() - t0;
  await client.close();
  await proxy.close();
  const full = scriptedText('d', STALL_N, STALL_SIZE);
  const lost = full.startsWith(text) ? full.slice(text.length).split(' ').filter(Boolean).length : NaN;
  const exact = text === full;
  const how = `${end.type}${end.type === 'turn.error' ? ` (${end.error?.code})` : ''}`;
  console.error(`  bridge stalled reader: ${how}, text exact ${exact}, ${lost} deltas lost, ${(ms / 1000).toFixed(1)} s`);
  return {
    figure: `Codex stalled reader (${STALL_MS / 1000} s stall, ${STALL_N / 1000}k deltas of ${STALL_SIZE / 1000} KB)`,
    sdk: `${Number.isNaN(lost) ? 'n/a' : lost} of ${STALL_N.toLocaleString('en-US')} lost, text ${exact ? 'exact' : 'NOT exact'}, ${end.type}`,
    baseline: `raw: ${stalledRaw.how} after ${stalledRaw.deltas.toLocaleString('en-US')} deltas`,
    ratio: null,
    target: '0 lost through the bridge',
    pass: exact && lost === 0 && end.type === 'turn.completed',
    command: ROW_COMMAND,
    note:
      `raw: the WebSocket reader is paused after its first delta; bridge: the client→server TCP connection is stalled by a fault proxy after the first delta; ` +
      `through the bridge: first delta ${(firstMs / 1000).toFixed(1)} s after the prompt, last delta ${(lastMs / 1000).toFixed(1)} s, ${how} ${(ms / 1000).toFixed(1)} s ` +
      `(the stall included; a 60 MB turn ends with Codex's item/completed and turn/completed, each repeating the whole text); Codex's SSE idle limit on the mock LLM raised from 30 s to 300 s for this figure; load average ${os.loadavg()[0].toFixed(1)} at the end`,
  };
}

const llm = await startMockLlmChild();
const dirs = codexDirs(llm.url);
// The 60 MB turn ends with four model events that each repeat the whole text; at a load average
// of ~15 Codex took more than the suites' 30 s SSE idle limit to take them in and ended the turn
// with "idle timeout waiting for SSE" (mock → Codex, before anything reaches a bridge or a client).
const config = path.join(dirs.home, 'config.toml');
writeFileSync(config, readFileSync(config, 'utf8').replace(/^stream_idle_timeout_ms = \d+$/m, 'stream_idle_timeout_ms = 300000'));
const codex = await startCodexServer(codexBin.path, dirs);
const server = await startServerChild({ serverOptions: { codex: { url: codex.url } } });
try {
  const procs = { llm, codex, server };
  const rows = [await throughput(procs)];
  if (!THROUGHPUT_ONLY) rows.push(await stalledReader(procs));
  emit({ rows });
} finally {
  await server.close();
  await codex.close();
  await llm.close();
  removeDirs(dirs);
}
