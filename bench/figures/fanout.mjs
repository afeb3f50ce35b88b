// Server fan-out: one session, 500 WebSocket subscribers (raw `ws` clients in
// this process, kept cheap: a frame is only JSON.parsed when it carries the
// terminal), the server in its own process. Each round the agent streams a turn
// of N deltas as fast as it can; aggregate events/s = events delivered to the
// 499 "other" subscribers / (prompt → last of them has the terminal).
// Rounds alternate: all reading, then one subscriber stalled (ws.pause(): it
// stops reading its socket for the whole turn, so TCP backpressure reaches the
// server). The stalled one must not be disconnected and, once resumed, must get
// every event (contiguous seq) up to the terminal.
//
//   node bench/figures/fanout.mjs [--quick] [--rounds N]
import WebSocket from 'ws';
import { parseArgs, median, startServerChild, askServer, http, benchPrompt, emit, fmt, withTimeout } from '../lib/common.mjs';

const args = parseArgs();
const SUBS = 500;
const N = args.quick ? 2000 : 5000;
const rounds = args.rounds ?? (args.quick ? 2 : 4);
// Rounds stop early once this much time went by (after at least one pair): a slow
// server must not push `npm run bench` past its few minutes.
const BUDGET_MS = args.quick ? 30_000 : 60_000;
const FILLER_DELTAS = 256; // × 64 KB = 16 MB queued towards the stalled subscriber

const server = await startServerChild({ execArgv: ['--max-old-space-size=3072'] });
const sockets = [];
try {
  const base = server.url;
  const session = await http.createSession(base);
  // A second session only subscriber 0 follows: before a stalled round, a filler turn of
  // large deltas there fills its kernel buffers and its server-side buffer, so that the
  // measured turn really meets a backpressured connection (kernel buffers on loopback
  // would otherwise swallow the whole measured turn and hide the server's behaviour).
  const filler = await http.createSession(base);
  const wsBase = new URL('/v1/ws', base);
  wsBase.protocol = 'ws:';

  // subscriber 0 is the one that gets stalled; it parses everything and checks seq.
  const subs = [];
  for (let i = 0; i < SUBS; i++) {
    const sub = { i, done: null, target: 0, lastSeq: 0, closed: null, gaps: 0, onDone: null };
    const ws = new WebSocket(`${wsBase.href}?clientId=fan-${i}`);
    sockets.push(ws);
    subs.push(sub);
    sub.ws = ws;
    await new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.on('close', (code) => (sub.closed = code));
      ws.on('message', (data) => {
        if (i === 0 || data.includes('"welcome"') || data.includes('"reply"') || data.includes('"turn.completed"')) {
          const f = JSON.parse(data.toString());
          if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: session.id, after: 0 }));
          else if (f.type === 'reply') {
            if (f.id === 's') resolve();
          } else if (f.type === 'events' && f.sessionId === session.id) {
            for (const ev of f.events) {
              if (i === 0 && sub.lastSeq && ev.seq !== sub.lastSeq + 1) sub.gaps++;
              sub.lastSeq = ev.seq;
            }
            if (sub.onDone && sub.lastSeq >= sub.target) {
              const d = sub.onDone;
              sub.onDone = null;
              d(performance.now());
            }
          }
        }
      });
    });
  }
  subs[0].ws.send(JSON.stringify({ type: 'subscribe', id: 'filler', sessionId: filler.id }));
  console.error(`  ${SUBS} subscribers connected`);

  const results = { normal: [], stalled: [] };
  let stalledSub = null;
  let serverBuffers = null;
  let backpressureMissed = 0;
  const runRound = async (stall) => {
    const snap = await http.snapshot(base, session.id);
    const target = snap.session.seq + N + 3;
    const waits = subs.map((s) => new Promise((r) => ((s.target = target), (s.onDone = r))));
    const s0 = subs[0];
    let fillerTurn;
    if (stall) {
      s0.ws.pause();
      fillerTurn = await http.prompt(base, filler.id, benchPrompt(FILLER_DELTAS, { size: 64 * 1024, hold: true }));
      // Wait until the server holds bytes for it: kernel buffers full, backpressure reached the server.
      const deadline = performance.now() + 20_000;
      for (;;) {
        const c = (await askServer(server.child, 'stats')).connections.find((x) => x.clientId === 'fan-0');
        if ((c?.bufferedBytes ?? 0) > 0) break;
        if (performance.now() > deadline) {
          backpressureMissed++;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const t0 = performance.now();
    await http.prompt(base, session.id, benchPrompt(N));
    const ends = await withTimeout(Promise.all(waits.slice(1)), 300_000, 'fan-out round');
    const ms = Math.max(...ends) - t0;
    const rate = ((SUBS - 1) * (N + 3)) / (ms / 1000);
    if (stall) {
      const closedDuring = s0.closed;
      await http.cancel(base, filler.id, fillerTurn.id);
      // What the server holds for the stalled connection vs the others (F6: one bounded buffer).
      const conns = (await askServer(server.child, 'stats')).connections;
      const mine = conns.find((c) => c.clientId === 'fan-0');
      const others = conns.filter((c) => c.clientId !== 'fan-0');
      serverBuffers = {
        stalledBuffered: mine?.bufferedBytes,
        stalledPeak: mine?.peakBufferedBytes,
        othersPeak: Math.max(...others.map((c) => c.peakBufferedBytes)),
      };
      s0.ws.resume();
      await withTimeout(waits[0], 60_000, 'stalled subscriber catching up');
      stalledSub = { closedDuring, gaps: s0.gaps, closed: s0.closed };
    } else {
      await withTimeout(waits[0], 60_000, 'subscriber 0');
    }
    return rate;
  };
  await runRound(false); // warm-up
  const started = performance.now();
  for (let r = 0; r < rounds && (r === 0 || performance.now() - started < BUDGET_MS); r++) {
    for (const stall of [false, true]) {
      const rate = await runRound(stall);
      (stall ? results.stalled : results.normal).push(rate);
      console.error(`  round ${r + 1}/${rounds} ${stall ? 'one stalled' : 'all reading'}: ${fmt.rate(rate)}`);
    }
  }
  const mem = await askServer(server.child, 'memory');
  const normal = median(results.normal);
  const stalled = median(results.stalled);
  // One statistic for the printed ratio and the pass: the median of per-pair ratios (stalled / all reading).
  const pairRatio = median(results.stalled.map((s, i) => s / results.normal[i]));
  const cost = 1 - pairRatio;
  const ok = cost < 0.1 && stalledSub && stalledSub.closedDuring === null && stalledSub.closed === null && stalledSub.gaps === 0;
  emit({
    rows: [
      {
        figure: `server fan-out (${SUBS} WS subscribers)`,
        sdk: `${fmt.rate(normal)}; one stalled: ${fmt.rate(stalled)}`,
        baseline: 'all subscribers reading',
        ratio: pairRatio,
        target: 'stall cost < 10 %, not disconnected',
        pass: ok,
        command: 'node bench/run.mjs --only fanout',
        note: `ratio and stall cost (${(cost * 100).toFixed(1)} %) are both the median of ${results.stalled.length} interleaved pairs' ratios; the rates shown are medians of each side; stalled subscriber disconnected: ${stalledSub?.closedDuring ?? stalledSub?.closed ?? 'no'}, seq gaps ${stalledSub?.gaps}; ${N} deltas per turn; ${backpressureMissed ? `in ${backpressureMissed} stalled round(s) the filler never reached the server's buffer; ` : ''}while stalled, the server held ${fmt.kb(serverBuffers?.stalledBuffered)} for it (peak ${fmt.kb(serverBuffers?.stalledPeak)}; the others' peak ${fmt.kb(serverBuffers?.othersPeak)}); server rss ${fmt.mb(mem.rss)}, heap ${fmt.mb(mem.heapUsed)} after the rounds`,
      },
    ],
  });
} finally {
  for (const ws of sockets) ws.terminate();
  await server.close();
}
