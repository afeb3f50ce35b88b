// Helpers of the scale-out figures (issue 10): a redis-server of the bench's own
// on a free loopback port, and one live-streaming round (a WebSocket subscriber
// reading a turn's deltas as the agent yields them) against any server child.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { askServer, benchPrompt, http, sleep, withTimeout } from './common.mjs';

const REDIS_BINARY = process.env.REDIS_SERVER_PATH || '/usr/bin/redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (d) => done(String(d).startsWith('+PONG')));
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

/** A redis-server with persistence off (`--save '' --appendonly no`); resolves with `{ url, pid, close }`. */
export async function startRedis() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tether-bench-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
  const child = spawn(REDIS_BINARY, args, { stdio: 'ignore' });
  child.once('error', () => {});
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server (${REDIS_BINARY}) did not start on port ${port}; install it with: apt-get install redis-server`);
    }
    await sleep(25);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    close: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The CPU time (user + system, µs) a process used, read from /proc (Linux): works for redis-server too. */
export function processCpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / 100;
}

/**
 * One session streaming `count` deltas of `size` bytes: subscribe over a
 * WebSocket at `subscribeUrl`, prompt through `promptUrl` (another node, in a
 * cluster), resolve once every delta arrived; the turn is then canceled.
 * Resolves with `{ ms, deltas }`.
 */
export async function liveSession({ subscribeUrl, promptUrl = subscribeUrl, count, size = 20, timeoutMs = 300_000 }) {
  const session = await retried(() => http.createSession(promptUrl));
  const ws = new WebSocket(new URL('/v1/ws', subscribeUrl).href.replace(/^http/, 'ws'));
  let turn;
  let deltas = 0;
  const key = `bench-${session.id}`;
  const t0 = performance.now();
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.on('error', reject);
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString());
          // The subscription reads from seq 1, so prompting at once loses nothing.
          if (frame.type === 'welcome') {
            ws.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: session.id, after: 0 }));
            turn = retried(() => promptOnce(promptUrl, session.id, benchPrompt(count, { size, hold: true }), key));
            // A refused prompt fails this session (the figure counts it), never the whole process.
            turn.catch(reject);
          }
          if (frame.type === 'events') {
            for (const ev of frame.events) {
              if (ev.type === 'turn.delta') deltas++;
              // The turn ended before all its deltas (e.g. `interrupted` after its runner lost the lease): fail now, not at the timeout.
              else if (ev.type === 'turn.error') reject(new Error(`turn ended early: ${ev.error?.code}`));
            }
          }
          if (deltas >= count) resolve();
        });
      }),
      timeoutMs,
      'live session',
    );
    return { ms: performance.now() - t0, deltas };
  } finally {
    ws.close(1000);
    const started = await turn?.catch(() => undefined);
    if (started) await http.cancel(promptUrl, session.id, started.id).catch(() => {});
  }
}

/** Sum of the CPU time (µs) the server children used, asked over IPC. */
export async function serversCpuMicros(servers) {
  const usages = await Promise.all(servers.map((s) => askServer(s.child, 'cpu')));
  return usages.reduce((sum, u) => sum + u.user + u.system, 0);
}

/**
 * Setup calls retried on a dropped keep-alive socket (the server closing an idle connection
 * as the client reuses it, seen as UND_ERR_SOCKET or ECONNRESET: frequent with 100 sessions
 * on busy nodes). The prompt carries an
 * Idempotency-Key, so a retry finds the same turn.
 */
const RETRIED_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET']);
async function retried(call, attempts = 3) {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (i >= attempts || !RETRIED_CODES.has(error?.cause?.code)) throw error;
      await sleep(50 * i);
    }
  }
}

async function promptOnce(base, sessionId, prompt, key) {
  const res = await fetch(new URL(`/v1/sessions/${sessionId}/turns`, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ prompt, clientId: 'bench' }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
  return JSON.parse(text).turn;
}
