// What every abuse probe shares: the server in a child process (RSS sampled from /proc),
// a healthy client measuring its latency from another loopback address, and the report line.
// The attacker connects from 127.0.0.2 so limits keyed by IP do not fall on the healthy client.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { request } from 'node:http';

export const ATTACKER = '127.0.0.2';

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** Start bench/abuse/server.mjs; resolves with its url, RSS sampler, stderr line count and stop(). */
export async function startServer(options = {}) {
  const child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
    env: { ...process.env, ABUSE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logLines = 0;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (logLines += chunk.split('\n').filter((l) => /^(agent-tether|\S.*agent-tether:)/.test(l)).length));
  const url = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (line) => resolve(line.trim()));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const baseRss = rssMiB(child.pid);
  let peakRss = baseRss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssMiB(child.pid));
    } catch {}
  }, 50);
  return {
    url,
    pid: child.pid,
    baseRss,
    get peakRss() {
      return peakRss;
    },
    get logLines() {
      return logLines;
    },
    async stop() {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A plain HTTP call (from `localAddress`), resolving status, headers and body text. */
export function http(url, { method = 'GET', path = '/', body, headers = {}, localAddress = '127.0.0.1', timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const req = request(new URL(path, url), { method, headers: body ? { 'content-type': 'application/json', ...headers } : headers, localAddress, agent: false, timeout: timeoutMs });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on('error', () => resolve({ status: 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    req.end(body);
  });
}

/**
 * The healthy client, in a process of its own (bench/abuse/healthy.mjs) so the
 * attacker's work in this process (opening 1,000 sockets takes it ~200 ms)
 * never shows as the server's latency: a session of its own, then every
 * `everyMs` a small prompt or a snapshot read, each timed. Resolves once its
 * session exists; stop() → p50/p99/max of those calls in ms, and `between(from, to)`:
 * the same for the calls started within that span (epoch ms) alone.
 */
export async function healthyClient(url, everyMs = 100) {
  const child = fork(new URL('./healthy.mjs', import.meta.url).pathname, [url, String(everyMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const [ready] = await Promise.race([once(child, 'message'), exited.then(([code]) => Promise.reject(new Error(`healthy client exited ${code}`)))]);
  if (ready !== 'ready') throw new Error(`healthy client: ${JSON.stringify(ready)}`);
  return {
    async stop() {
      const reply = once(child, 'message');
      child.send('stop');
      const [{ calls, failures }] = await reply;
      await exited;
      return { ...latencyOf(calls), failures, between: (from, to) => latencyOf(calls.filter(([started]) => started >= from && started < to)) };
    },
  };
}

/** Count, p50, p99 and max of timed calls ([start, ms] pairs). */
function latencyOf(calls) {
  const sorted = calls.map(([, ms]) => ms).sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { calls: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? NaN };
}

/** The healthy client alone for `ms`, before the attack: the same-run baseline of its latency. */
export async function baseline(url, ms = 5000) {
  const client = await healthyClient(url);
  await sleep(ms);
  return client.stop();
}

/** One JSON line per probe, plus the machine's load. */
export function report(name, fields) {
  const line = { probe: name, loadavg: loadavg().map((l) => Number(l.toFixed(2))), ...fields };
  console.log(JSON.stringify(line, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(1)) : v)));
  return line;
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The report fields every probe shares: the server's memory and the healthy client's latency. */
export function sharedFields(server, latency, before) {
  return {
    ...(before ? { baselineP99Ms: before.p99 } : {}),
    rssBaseMiB: server.baseRss,
    rssPeakMiB: server.peakRss,
    healthyP99Ms: latency.p99,
    healthyMaxMs: latency.max,
    healthyCalls: latency.calls,
    healthyFailures: latency.failures,
  };
}
