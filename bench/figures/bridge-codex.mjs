// Codex through the bridge (issue 11). Needs the real codex binary (scripts/install-peers.sh).
//
// 1. Throughput: one Codex turn of N deltas from the project's mock LLM, read
//    (a) by a raw WebSocket client speaking Codex's JSON-RPC directly, and
//    (b) by an agent-tether client through our server + codexAgent (in this process),
//    interleaved rounds, deltas/s from turn/start (prompt) to turn/completed (result).
//    Figure: median of per-round bridge/raw ratios, with the min–max spread.
// 2. Stalled reader: a turn of 40,000 deltas of 1.5 KB (60 MB: small deltas fit in the
//    kernel's socket buffers for 10 s and show nothing); the reader stops reading for 10 s after
//    its first delta. Raw: the socket is paused (`ws.pause()`), so Codex's outbound queue
//    fills and it drops the connection; reported: deltas received before the drop.
//    Bridge: the client's TCP connection to our server is stalled by a fault proxy for
//    10 s; reported: deltas lost (expected text minus received text).
//
//   node bench/figures/bridge-codex.mjs [--quick]
import WebSocket from 'ws';
import { createClient } from '../../dist/index.js';
import { createServer } from '../../dist/server.js';
import { createFaultProxy } from '../../dist/testing.js';
import { codexAgent } from '../../dist/bridges/codex.js';
import { parseArgs, emit, fmt, median, sleep, withTimeout } from '../lib/common.mjs';
import { startMockLlm, scriptedText } from '../../test/bridges/fixtures/mock-llm.ts';
import { codexDirs, removeDirs, startCodexServer } from '../../test/bridges/fixtures/codex-app-server.ts';
import { findBinary } from '../../test/support/require-binary.ts';
import { CODEX } from '../../test/support/system-binaries.ts';

const args = parseArgs();
const N = args.quick ? 5_000 : 20_000;
const ROUNDS = args.quick ? 2 : 3;
const STALL_N = 40_000;
const STALL_SIZE = 1500;
const STALL_MS = 10_000;

const codexBin = findBinary(CODEX);
if (!codexBin.path) throw new Error(`${codexBin.looked}: run scripts/install-peers.sh`);

/** A raw JSON-RPC client on Codex's WebSocket. */
async function rawCodex(url) {
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
      pending.set(i, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  await request('initialize', { clientInfo: { name: 'bench-raw', title: null, version: '0' }, capabilities: null });
  ws.send(JSON.stringify({ method: 'initialized' }));
  const { thread } = await request('thread/start', {});
  return { ws, request, listeners, threadId: thread.id };
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

const llm = await startMockLlm();
const dirs = codexDirs(llm.url);
const codex = await startCodexServer(codexBin.path, dirs);
const agent = codexAgent({ url: codex.url });
const server = createServer({ agent });
const { url: base } = await server.listen(0, '127.0.0.1');
try {
  // ---- throughput, interleaved
  const client = createClient({ baseUrl: base });
  const session = await client.createSession();
  const raw = await rawCodex(codex.url);
  const expected = scriptedText('d', N);
  await rawTurn(raw, 'deltas=500'); // warm-up both paths
  await (await session.prompt('deltas=500')).result;
  const ratios = [];
  const rawRates = [];
  const bridgeRates = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r = await withTimeout(rawTurn(raw, `deltas=${N}`), 300_000, 'raw turn');
    if (r.how !== 'completed' || r.deltas !== N) throw new Error(`raw turn: ${r.how}, ${r.deltas} deltas`);
    const t0 = performance.now();
    const turn = await session.prompt(`deltas=${N}`);
    let text = '';
    for await (const ev of turn) if (ev.type === 'turn.delta') text += ev.text;
    const ms = performance.now() - t0;
    if (text !== expected) throw new Error('bridge text not exact');
    rawRates.push((N / r.ms) * 1000);
    bridgeRates.push((N / ms) * 1000);
    ratios.push(r.ms / ms);
    console.error(`  round ${round + 1}: raw ${fmt.rate(rawRates.at(-1))}, bridge ${fmt.rate(bridgeRates.at(-1))} (${(r.ms / ms).toFixed(2)}×)`);
  }
  raw.ws.close();

  // ---- stalled reader: raw
  const rawStall = await rawCodex(codex.url);
  const stalledRaw = await withTimeout(rawTurn(rawStall, `deltas=${STALL_N}:${STALL_SIZE}`, { pauseAfterFirst: STALL_MS }), 600_000, 'raw stalled turn');
  rawStall.ws.terminate();
  console.error(`  raw stalled reader: ${stalledRaw.how} after ${stalledRaw.deltas} of ${STALL_N} deltas`);
  await sleep(1000); // let Codex finish that turn before the next one

  // ---- stalled reader: through the bridge (the client's connection stalled at TCP level)
  const proxy = await createFaultProxy({ target: base }).listen();
  const stalledClient = createClient({ baseUrl: proxy.url });
  const stalledSession = await stalledClient.createSession();
  const turn = await stalledSession.prompt(`deltas=${STALL_N}:${STALL_SIZE}`);
  let text = '';
  let stalled = false;
  for await (const ev of turn) {
    if (ev.type !== 'turn.delta') continue;
    text += ev.text;
    if (!stalled) {
      stalled = true;
      proxy.stall(true);
      await sleep(STALL_MS);
      proxy.stall(false);
    }
  }
  const full = scriptedText('d', STALL_N, STALL_SIZE);
  const lost = full.startsWith(text) ? full.slice(text.length).split(' ').filter(Boolean).length : NaN;
  const exact = text === full;
  const stalledEnd = await turn.result;
  console.error(`  bridge stalled reader: ${stalledEnd.type}${stalledEnd.type === 'turn.error' ? ` (${JSON.stringify(stalledEnd.error)})` : ''}, text exact ${exact}, ${lost} deltas lost`);
  await stalledClient.close();
  await proxy.close();
  await client.close();

  const ratio = median(ratios);
  emit({
    rows: [
      {
        figure: `Codex through the bridge (${N / 1000}k deltas)`,
        sdk: `${fmt.rate(median(bridgeRates))} (codexAgent + server + client)`,
        baseline: `${fmt.rate(median(rawRates))} (raw WebSocket client on Codex)`,
        ratio,
        target: '≥ 0.8×',
        pass: ratio >= 0.8,
        command: 'node bench/run.mjs --only bridge-codex',
        note: `deltas/s from turn/start (prompt) to turn/completed (result); median of ${ROUNDS} interleaved rounds, per-round ratios ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×; the bridge's rounds run Codex, our server and the client in this one process`,
      },
      {
        figure: `Codex stalled reader (${STALL_MS / 1000} s stall, ${STALL_N / 1000}k deltas of ${STALL_SIZE / 1000} KB)`,
        sdk: `${Number.isNaN(lost) ? 'n/a' : lost} of ${STALL_N.toLocaleString('en-US')} lost, text ${exact ? 'exact' : 'NOT exact'}, ${stalledEnd.type}`,
        baseline: `raw: ${stalledRaw.how} after ${stalledRaw.deltas.toLocaleString('en-US')} deltas`,
        ratio: null,
        target: '0 lost through the bridge',
        pass: exact && lost === 0 && stalledEnd.type === 'turn.completed',
        command: 'node bench/run.mjs --only bridge-codex',
        note: 'raw: the WebSocket reader is paused after its first delta; bridge: the client→server TCP connection is stalled by a fault proxy after the first delta',
      },
    ],
  });
} finally {
  await server.close();
  await agent.close();
  await codex.close();
  await llm.close();
  removeDirs(dirs);
}
