/** `agent-tether demo --cluster`: two server processes on one Redis behind a load balancer; the node a watcher is attached to is killed and the turn carries on from the other. */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createClient, type SubscriptionEvent } from '../index.js';
import { systemClock, waitAtMost } from '../internal/clock.js';
import { describeValue } from '../internal/describe-value.js';
// Straight from its module, not the `testing` entry: the CLI must not pull in msw (a devDependency).
import { createLoadBalancer } from '../testing/load-balancer.js';
import { DemoFailure, Transcript } from './demo-transcript.js';

/** Options of {@link runClusterDemo}. */
export interface ClusterDemoOptions {
  /** Where the transcript goes. @default process.stdout.write */
  write?: ((text: string) => void) | undefined;
  /** The watchdog. @default 60_000 */
  timeoutMs?: number | undefined;
  /** The redis-server binary. @default $REDIS_SERVER_PATH, else `redis-server` on the PATH or in /usr/bin, /usr/sbin */
  redisServer?: string | undefined;
}

const STEPS = 4;
const NUMBERS = 40;
const KILL_AFTER = 8;

/** The redis-server to run, or `undefined` when there is none. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.REDIS_SERVER_PATH ? [env.REDIS_SERVER_PATH] : [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin'].map((dir) => join(dir, 'redis-server'));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A child process that is killed when the demo ends, whatever happened. */
type Owned = { child: ChildProcess; stop: () => Promise<void> };

function own(child: ChildProcess): Owned {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => (socket.destroy(), resolve(ok));
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

async function startRedis(binary: string, dir: string): Promise<Owned & { url: string }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
  const redis = own(spawn(binary, args, { stdio: 'ignore' }));
  for (let i = 0; !(await ping(port)); i++) {
    if (redis.child.exitCode !== null || i > 200) throw new DemoFailure(`redis-server (${binary}) did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { ...redis, url: `redis://127.0.0.1:${port}` };
}

/** `agent-tether serve --redis <url>` as a child process; resolves once it listens. */
async function startNode(redisUrl: string): Promise<Owned & { url: string; pid: number }> {
  const node = own(spawn(process.execPath, [process.argv[1]!, 'serve', '--redis', redisUrl, '--port', '0', '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    node.child.stdout!.on('data', onData);
    node.child.stderr!.on('data', (chunk: Buffer) => (output += String(chunk)));
    node.child.once('exit', () => reject(new DemoFailure(`a server node exited at start: ${output.trim()}`)));
  });
  return { ...node, url, pid: node.child.pid! };
}

/**
 * Runs the cluster demo; `true` when every check held. Without a redis-server
 * it says what is missing and returns `false`.
 *
 * @example
 * const ok = await runClusterDemo({ write: (text) => process.stdout.write(text) });
 */
export async function runClusterDemo(options: ClusterDemoOptions = {}): Promise<boolean> {
  const out = new Transcript(options.write ?? ((text) => void process.stdout.write(text)));
  const binary = options.redisServer ?? findRedisServer();
  if (binary === undefined) {
    out.final('Demo FAILED: demo --cluster needs redis-server, which was not found on the PATH, in /usr/bin or /usr/sbin. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_SERVER_PATH.');
    return false;
  }
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'agent-tether-demo-redis-'));
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  let failure: unknown;
  const body = async () => {
    out.heading(1, STEPS, 'Two server processes on one Redis, a load balancer in front');
    const redis = await startRedis(binary, dir);
    cleanups.push(redis.stop);
    const [a, b] = [await startNode(redis.url), await startNode(redis.url)];
    cleanups.push(a.stop, b.stop);
    const lb = await createLoadBalancer({ backends: [a.url, b.url] }).listen();
    cleanups.push(() => lb.close());
    out.line(`  redis-server  ${redis.url} (persistence off)`);
    out.line(`  node A        ${a.url} (pid ${a.pid})`);
    out.line(`  node B        ${b.url} (pid ${b.pid})`);
    out.line(`  balancer      ${lb.url} (round-robin, TCP)`);

    // Bob is an app that talks to node B; alice reaches the cluster through the balancer.
    const bob = createClient({ baseUrl: b.url, clientId: 'bob' });
    const alice = createClient({ baseUrl: lb.url, clientId: 'alice', transports: ['websocket'], reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    cleanups.push(() => alice.close(), () => bob.close());
    const session = await bob.createSession();
    const seen: SubscriptionEvent[] = [];
    const subscription = alice.session(session.id).subscribe({ after: 0 });
    const watching = (async () => {
      for await (const event of subscription) seen.push(event);
    })();
    await until(() => lb.connections.length > 0, 'alice connected through the balancer');
    out.check(lb.connections.every((c) => c.backend === 0), "alice's WebSocket landed on node A", `alice's connection is on node ${lb.connections[0]?.backend === 1 ? 'B' : '?'}`);

    out.heading(2, STEPS, 'Bob prompts through node B; alice watches through node A');
    out.line(`  bob   › count to ${NUMBERS}`);
    const turn = await bob.session(session.id).prompt(`count to ${NUMBERS}`);
    const deltas = () => seen.filter((e) => e.type === 'turn.delta' && e.turnId === turn.id).map((e) => (e as { text: string }).text);
    out.startStream('  alice ‹ ');
    let shown = 0;
    const show = () => {
      for (const text of deltas().slice(shown)) out.inline(text);
      shown = deltas().length;
    };
    await until(() => (show(), deltas().join('').trim().split(/\s+/).length >= KILL_AFTER), 'the first numbers reached alice');

    out.heading(3, STEPS, 'Node A, the one alice is attached to, is killed');
    let reopened = false;
    const offState = alice.on('state', (state) => {
      if (state.status === 'reconnecting') out.line(`  … alice: reconnecting (attempt ${state.attempt ?? '?'})`);
      if (state.status === 'open') {
        reopened = true;
        out.line(`  … alice: open again over ${state.transport}, through the balancer (now on node B)`);
      }
    });
    cleanups.push(async () => offState());
    a.child.kill('SIGKILL');
    out.line(`  ✂ node A (pid ${a.pid}) killed with SIGKILL after ${deltas().join('').trim().split(/\s+/).length} of ${NUMBERS} numbers`);
    await until(() => reopened, 'alice reconnected');
    out.startStream('  alice ‹ ');
    shown = deltas().length;
    const end = await turn.result;
    await until(() => (show(), seen.some((e) => e.turnId === turn.id && e.type === end.type)), "the turn's end reached alice");
    out.endStream();

    out.heading(4, STEPS, 'The turn survived on node B');
    const output = (end as { output?: string }).output;
    out.check(end.type === 'turn.completed', `the turn ended ${end.type} (it ran on node B, which is alive)`, `the turn ended ${describeValue(end)}`);
    out.check(deltas().join('') === output, `alice saw all ${NUMBERS} numbers, none lost or repeated: her text equals turn.completed.output`, `alice's text ${JSON.stringify(deltas().join(''))} differs from the output ${JSON.stringify(output)}`);
    const seqs = seen.map((e) => (e as { seq?: number }).seq ?? 0);
    out.check(seqs.every((seq, i) => seq === i + 1), `alice's subscription saw every event once, in order: seq 1…${seqs.length}`, `alice's seqs are not 1…n: ${seqs.join(' ')}`);
    subscription.close();
    await watching;
  };
  const running = body().catch((error: unknown) => {
    failure ??= error;
  });
  if (!(await waitAtMost(systemClock, running, options.timeoutMs ?? 60_000))) failure ??= new DemoFailure('timed out');
  for (const cleanup of cleanups.reverse()) await waitAtMost(systemClock, cleanup().catch(() => {}), 5_000);
  if (failure === undefined) {
    out.final(`Demo complete: the turn survived the kill of the node alice was attached to (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`);
    return true;
  }
  out.final(`Demo FAILED: ${describeValue(failure)}`);
  return false;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new DemoFailure(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
