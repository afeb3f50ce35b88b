// fileStore upgrade with a big history (issue 9): a session in the previous
// one-file layout (`<id>.session.json` + `<id>.events.jsonl`) whose log is
// ~700 MB — past the ~512 MiB single-string limit that made the old loader
// drop all history under a new epoch. A new process opens the store (the
// migration runs at open), listens, and must serve the retained tail over
// HTTP: the last `maxEventsPerSession` events, contiguous seqs, same epoch.
// Time to the open port and peak RSS against a 10,000-event old-layout log,
// same run. The big file is deleted afterwards.
//
//   node bench/figures/storage-big-history.mjs [--quick]
import { spawn } from 'node:child_process';
import { createWriteStream, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DIST, emit, parseArgs } from '../lib/common.mjs';
import { scratchDir, spread } from '../lib/storage.mjs';

const args = parseArgs();
const BIG_BYTES = (args.quick ? 120 : 700) * 1024 * 1024;
const SMALL = 10_000;
const RETENTION = 10_000;
const ROUNDS = args.quick ? 1 : Number(process.env.BIG_HISTORY_ROUNDS ?? 1);
const ID = 'old-session';
const EPOCH = 'epoch-before-upgrade';

const line = (seq) =>
  `${JSON.stringify({ type: 'turn.delta', sessionId: ID, seq, epoch: EPOCH, time: seq, turnId: 't1', text: `delta number ${seq} of a long answer that goes on for a while, as agents do` })}\n`;

/** The previous layout, streamed to disk (never held whole): returns the events and bytes written. */
async function writeOldLayout(dir, { maxBytes, maxEvents }) {
  const out = createWriteStream(path.join(dir, `${ID}.events.jsonl`));
  let seq = 0;
  let bytes = 0;
  let chunk = '';
  while (bytes < maxBytes && seq < maxEvents) {
    seq++;
    const text = line(seq);
    chunk += text;
    bytes += Buffer.byteLength(text);
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  // The turn ended: its terminal is the log's last line and sits in its record, as the previous layout stored it.
  seq++;
  const terminal = { type: 'turn.completed', sessionId: ID, seq, epoch: EPOCH, time: seq, turnId: 't1', output: 'done' };
  out.write(chunk + `${JSON.stringify(terminal)}\n`);
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
  const turn = { id: 't1', status: 'completed', prompt: 'write a lot', createdAt: 0, queuedSeq: 0, terminal };
  writeFileSync(path.join(dir, `${ID}.session.json`), JSON.stringify({ version: 1, id: ID, epoch: EPOCH, createdAt: 0, turns: [turn] }));
  return { events: seq, bytes: statSync(path.join(dir, `${ID}.events.jsonl`)).size };
}

// The upgraded server: open (migrate), listen, then read the retained tail by long-poll.
const CHILD = `
  const t0 = performance.now();
  const { createServer, fileStore } = await import(${JSON.stringify(path.join(DIST, 'server.js'))});
  const [dir, sid, lastSeqText, retentionText] = process.argv.slice(1);
  const lastSeq = Number(lastSeqText);
  const retention = Number(retentionText);
  const server = createServer({ agent: async function* () {}, store: fileStore({ dir }), maxEventsPerSession: retention, logger: {} });
  const { url } = await server.listen(0, '127.0.0.1');
  const listenMs = performance.now() - t0;
  const snapshot = await (await fetch(url + '/v1/sessions/' + sid)).json();
  const seqs = [];
  const epochs = new Set();
  let after = lastSeq - retention;
  let resets = 0;
  while (after < lastSeq) {
    const body = await (await fetch(url + '/v1/sessions/' + sid + '/poll?after=' + after + '&wait=0')).json();
    epochs.add(body.epoch);
    if (body.reset) resets++;
    if (body.events.length === 0) break;
    for (const event of body.events) { seqs.push(event.seq); epochs.add(event.epoch); }
    after = body.events.at(-1).seq;
  }
  const ms = performance.now() - t0;
  const rss = process.resourceUsage().maxRSS * 1024;
  await server.close();
  console.log(JSON.stringify({ ms, listenMs, rss, seqs: { count: seqs.length, first: seqs[0], last: seqs.at(-1), contiguous: seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1) }, epochs: [...epochs], resets, snapshot: snapshot.session ?? snapshot }));
`;

function restart(dir, lastSeq) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, ID, String(lastSeq), String(RETENTION)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`upgrade child exited ${code}`))));
  });
}

/** What the upgraded server must serve: exactly the last RETENTION events, contiguous, under the old epoch. */
function check(run, lastSeq, what) {
  const { seqs, epochs, resets } = run;
  const ok = seqs.count === RETENTION && seqs.first === lastSeq - RETENTION + 1 && seqs.last === lastSeq && seqs.contiguous && epochs.length === 1 && epochs[0] === EPOCH && resets === 0;
  if (!ok) throw new Error(`${what}: the upgraded server served ${JSON.stringify({ seqs, epochs, resets })}, not seqs ${lastSeq - RETENTION + 1}..${lastSeq} under ${EPOCH}`);
}

const rows = [];
const bigRuns = [];
const smallRuns = [];
let written;
for (let r = 0; r < ROUNDS; r++) {
  // Each round starts from the old layout again: the migration is what is measured.
  const big = scratchDir('tether-big-history-');
  const small = scratchDir('tether-big-history-small-');
  try {
    const t0 = performance.now();
    written = await writeOldLayout(big.dir, { maxBytes: BIG_BYTES, maxEvents: Number.POSITIVE_INFINITY });
    const smallWritten = await writeOldLayout(small.dir, { maxBytes: Number.POSITIVE_INFINITY, maxEvents: SMALL });
    console.error(`  wrote ${written.events} events (${(written.bytes / 1048576).toFixed(0)} MiB) in the previous layout in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const s = await restart(small.dir, smallWritten.events);
    check(s, smallWritten.events, `${SMALL} events`);
    const b = await restart(big.dir, written.events);
    check(b, written.events, `${written.events} events`);
    // A second restart of the upgraded store: it reads the retained tail only.
    const again = await restart(big.dir, written.events);
    check(again, written.events, `${written.events} events, second restart`);
    b.againMs = again.ms;
    b.againRss = again.rss;
    smallRuns.push(s);
    bigRuns.push(b);
    console.error(`  round ${r + 1}: port open ${b.listenMs.toFixed(0)} ms vs ${s.listenMs.toFixed(0)} ms; tail served ${b.ms.toFixed(0)} ms vs ${s.ms.toFixed(0)} ms; RSS ${(b.rss / 1048576).toFixed(0)} MB vs ${(s.rss / 1048576).toFixed(0)} MB; second restart: tail served ${again.ms.toFixed(0)} ms, RSS ${(again.rss / 1048576).toFixed(0)} MB`);
  } finally {
    big.remove();
    small.remove();
  }
}

const mb = (x) => (x / 1048576).toFixed(0);
const listen = spread(bigRuns.map((x, i) => x.listenMs / smallRuns[i].listenMs));
const rss = spread(bigRuns.map((x, i) => x.rss / smallRuns[i].rss));
const bigListen = spread(bigRuns.map((x) => x.listenMs), 0);
const smallListen = spread(smallRuns.map((x) => x.listenMs), 0);
const bigServed = spread(bigRuns.map((x) => x.ms), 0);
const againServed = spread(bigRuns.map((x) => x.againMs), 0);
const smallServed = spread(smallRuns.map((x) => x.ms), 0);
const size = `${(written.bytes / 1048576).toFixed(0)} MiB, ${written.events.toLocaleString('en-US')} events`;
rows.push({
  figure: `fileStore upgrade, previous layout with a ${size} log vs 10,000 events: time to an open port`,
  sdk: `${bigListen.median.toFixed(0)} ms`,
  baseline: `${smallListen.median.toFixed(0)} ms (10,000 events, previous layout)`,
  ratio: listen.median,
  target: 'tail served',
  pass: true,
  command: 'node bench/run.mjs --only storage-big-history',
  note: `new process → store opened (migration) → listening, ${ROUNDS} round(s): ratio ${listen.text}; ${bigListen.text} ms vs ${smallListen.text} ms (tmpfs); then the retained tail (the last ${RETENTION.toLocaleString('en-US')}, contiguous, epoch unchanged, no reset) served by long-poll after ${bigServed.text} ms (the first load streams the whole old log once, then keeps only the tail on disk), vs ${smallServed.text} ms; a second restart serves it after ${againServed.text} ms. Before: past ~512 MiB all history lost under a new epoch`,
});
rows.push({
  figure: `fileStore upgrade, previous layout with a ${size} log vs 10,000 events: peak RSS`,
  sdk: `${mb(spread(bigRuns.map((x) => x.rss)).median)} MB`,
  baseline: `${mb(spread(smallRuns.map((x) => x.rss)).median)} MB (10,000 events, previous layout)`,
  ratio: rss.median,
  target: '≤ 2×',
  pass: rss.median <= 2,
  command: 'node bench/run.mjs --only storage-big-history',
  note: `peak RSS of the upgraded process, ${ROUNDS} round(s): ratio ${rss.text}`,
});
emit({ rows });
