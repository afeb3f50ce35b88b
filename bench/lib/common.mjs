// Shared helpers for the benchmarks: argument parsing, statistics, the bench
// server child process and plain-HTTP setup calls. Built on the public API only
// (dist/*.js after `npm run build`) plus node: built-ins.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT = path.dirname(BENCH_DIR);
export const DIST = path.join(ROOT, 'dist');

/** `--quick`, `--only a,b`, `--rounds N` from argv. */
export function parseArgs(argv = process.argv.slice(2)) {
  const args = { quick: false, only: null, json: false, rounds: null, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--only') args.only = argv[++i].split(',');
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',');
    else if (a === '--rounds') args.rounds = Number(argv[++i]);
  }
  return args;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reject after `ms` so that no benchmark can hang. */
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms);
      t.unref?.();
    }),
  ]).finally(() => clearTimeout(t));
}

/** The delta text of index `i`: exactly `size` ASCII bytes, unique per index so text checks are exact. */
export function deltaText(i, size = 100) {
  // Small deltas: the index in base 36, padded, then a newline (5 bytes hold 1.6M indices).
  if (size < 16) return i.toString(36).padStart(size - 1, '0').slice(-(size - 1)) + '\n';
  const head = `#${i}:`;
  return head + 'x'.repeat(Math.max(0, size - head.length - 1)) + '\n';
}

/**
 * Starts the reference server in a child process (so its CPU and heap are not
 * counted against the client under test). Resolves with `{ url, child, close }`.
 * `serverOptions` is passed to `createServer` (JSON only).
 */
export async function startServerChild({ execArgv = [], serverOptions = {} } = {}) {
  // BENCH_SERVER_PROF=<dir>: CPU-profile the server child too (node --cpu-prof).
  const prof = process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`] : [];
  return forkChild(path.join(BENCH_DIR, 'lib', 'server-child.mjs'), [JSON.stringify(serverOptions)], { execArgv: [...execArgv, ...prof], what: 'server child' });
}

/**
 * Forks a bench helper that sends `{ url }` over IPC once it listens and exits on `{cmd:'close'}`.
 * Resolves with `{ url, pid, child, close }`.
 */
export async function forkChild(file, args, { execArgv = [], what }) {
  const child = fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await withTimeout(
    new Promise((resolve, reject) => {
      child.once('message', (m) => (m && m.url ? resolve(m.url) : reject(new Error(`${what}: ${JSON.stringify(m)}`))));
      child.once('exit', (code) => reject(new Error(`${what} exited early (${code})`)));
    }),
    20_000,
    `${what} start`,
  );
  const close = async () => {
    if (child.exitCode !== null) return;
    child.send({ cmd: 'close' });
    await withTimeout(new Promise((r) => child.once('exit', r)), 10_000, `${what} close`).catch(() => child.kill('SIGKILL'));
  };
  return { url, pid: child.pid, child, close };
}

/** Ask the server child for something (e.g. process memory) over IPC. */
export function askServer(child, cmd) {
  return withTimeout(
    new Promise((resolve) => {
      const on = (m) => {
        if (m && m.reply === cmd) {
          child.off('message', on);
          resolve(m.value);
        }
      };
      child.on('message', on);
      child.send({ cmd });
    }),
    10_000,
    `server ${cmd}`,
  );
}

async function json(res) {
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Plain-HTTP protocol calls used for setup (never measured). */
export const http = {
  async createSession(base) {
    const r = await json(await fetch(new URL('/v1/sessions', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    return r.session;
  },
  async prompt(base, sessionId, prompt) {
    const r = await json(
      await fetch(new URL(`/v1/sessions/${sessionId}/turns`, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt, clientId: 'bench' }),
      }),
    );
    return r.turn;
  },
  async turn(base, sessionId, turnId) {
    return (await json(await fetch(new URL(`/v1/sessions/${sessionId}/turns/${turnId}`, base)))).turn;
  },
  async snapshot(base, sessionId) {
    return json(await fetch(new URL(`/v1/sessions/${sessionId}`, base)));
  },
  async cancel(base, sessionId, turnId) {
    return json(await fetch(new URL(`/v1/sessions/${sessionId}/turns/${turnId}/cancel`, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"clientId":"bench"}' }));
  },
  /**
   * Fills a session's log with one turn of `count` deltas that ends with a
   * (small) turn.canceled: queued, started, count × delta, canceled. Resolves
   * with the session's last seq.
   */
  async prefill(base, sessionId, count, { size = 100, timeoutMs = 300_000 } = {}) {
    const turn = await http.prompt(base, sessionId, benchPrompt(count, { size, hold: true }));
    const want = turn.queuedSeq + 1 + count;
    const deadline = Date.now() + timeoutMs;
    while ((await http.snapshot(base, sessionId)).session.seq < want) {
      if (Date.now() > deadline) throw new Error(`prefill: ${count} deltas not in the log after ${timeoutMs} ms`);
      await sleep(50);
    }
    await http.cancel(base, sessionId, turn.id);
    const done = await http.waitTurn(base, sessionId, turn.id, timeoutMs);
    return done.terminal.seq;
  },
  /** Poll the turn until it has its terminal. */
  async waitTurn(base, sessionId, turnId, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await http.turn(base, sessionId, turnId);
      if (t.terminal) return t;
      if (Date.now() > deadline) throw new Error(`turn ${turnId} did not finish in ${timeoutMs} ms (status ${t.status})`);
      await sleep(50);
    }
  },
};

/**
 * The prompt language of the bench agent (bench/lib/server-child.mjs):
 * `deltas:<count>:<size>:<paceMs>` yields `count` deltas of `size` bytes,
 * `paceMs` apart (0 = as fast as the server takes them); with `:hold` the turn
 * then stays open until canceled.
 */
export const benchPrompt = (count, { size = 100, paceMs = 0, hold = false } = {}) =>
  `deltas:${count}:${size}:${paceMs}${hold ? ':hold' : ''}`;

/** Prints one result object for bench/run.mjs to collect (last line of stdout). */
export function emit(result) {
  process.stdout.write(`\n@@BENCH ${JSON.stringify(result)}\n`);
}

export const fmt = {
  rate: (x) => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en-US')} ev/s` : 'n/a'),
  ms: (x) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a'),
  smb: (x) => (Number.isFinite(x) ? `${x < 0 ? '−' : '+'}${(Math.abs(x) / 1048576).toFixed(2)} MB` : 'n/a'),
  mb: (x) => (Number.isFinite(x) ? `${(x / 1048576).toFixed(2)} MB` : 'n/a'),
  kb: (x) => (Number.isFinite(x) ? `${(x / 1024).toFixed(2)} KB` : 'n/a'),
};

/** Heap used after a few GC passes across event-loop turns (run node with --expose-gc). */
export async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** Samples heapUsed every 50 ms; the returned function stops and gives the peak. */
export function sampler() {
  let peak = 0;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 50);
  return () => (clearInterval(t), Math.max(peak, process.memoryUsage().heapUsed));
}
