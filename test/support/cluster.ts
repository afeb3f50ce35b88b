/**
 * A real cluster on loopback for failover tests: one redis-server, N reference-server
 * child processes sharing it (test/server/fixtures/cluster-node.mjs), and the testing
 * kit's load balancer in front. A node can be killed (SIGKILL: a crash; SIGTERM: a
 * rolling deploy's stop) and restarted on the same port, so the balancer needs no change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createFaultProxy, createLoadBalancer, type FaultProxy, type LoadBalancer } from '../../src/testing.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

const CHILD = fileURLToPath(new URL('../server/fixtures/child-server.mjs', import.meta.url));

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The redis-server binary (from `requireRedisServer`). */
  redisBinary: string;
  /** How many server processes. @default 3 */
  nodes?: number;
  /** Redis with the append-only file on, for restart tests. @default false */
  appendOnly?: boolean;
  /** How the balancer picks a node. @default 'random' */
  strategy?: 'random' | 'round-robin';
  /** The balancer's source of chance (seed it to make a run repeatable). @default Math.random */
  random?: () => number;
  /**
   * Nodes reach Redis through a fault proxy (`cluster.redisProxy`), so a test can make
   * Redis unreachable without stopping it. @default false
   */
  redisProxy?: boolean;
  /** Extra `redisStore` options, passed to every node. */
  store?: Record<string, unknown>;
  /** Extra `createServer` options (JSON-serialisable), passed to every node. */
  server?: Record<string, unknown>;
}

/** One server process of the cluster. */
export interface ClusterNode {
  readonly index: number;
  /** `n0`, `n1`, …: what the node's agent prints first in every turn (`@n1 `). */
  readonly nodeId: string;
  /** The node's own URL (not through the balancer). */
  readonly url: string;
  readonly port: number;
  /** Whether its process is running. */
  readonly running: boolean;
  /** Its stdout lines so far (JSON lines). */
  readonly lines: readonly string[];
  stderr(): string;
}

/** A running cluster; close it with `close()` or `await using`. */
export interface Cluster extends AsyncDisposable {
  readonly redis: RedisServer;
  /** The fault proxy between the nodes and Redis (with `redisProxy: true`). */
  readonly redisProxy: FaultProxy | undefined;
  readonly lb: LoadBalancer;
  /** The balancer's URL: the clients' `baseUrl`. */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** Which node's agent produced a turn, from its first delta (`@n1 `); `undefined` for other text. */
  nodeOf(text: string): ClusterNode | undefined;
  /** Sends `signal` to node i's process and resolves once it exited (SIGKILL after `timeoutMs`). */
  stop(i: number, signal?: 'SIGKILL' | 'SIGTERM', timeoutMs?: number): Promise<void>;
  /** Starts node i again on its port; resolves once it listens. */
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

interface NodeProcess {
  child: ChildProcess;
  exited: Promise<void>;
  /** Resolves with the node's address once it listens; rejects if it exits first. */
  listening: Promise<{ url: string; port: number }>;
  lines: string[];
  stderr: string;
}

/**
 * A node process that has loaded the server (the slow part: seconds on a loaded
 * machine) and waits for its configuration on stdin, so a restart takes a moment.
 */
function spawnSpare(): NodeProcess {
  const child = spawn(process.execPath, ['--no-warnings', CHILD, '--cluster', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const proc = { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())), lines: [] as string[], stderr: '' } as NodeProcess;
  child.stdin!.on('error', () => {});
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (proc.stderr = (proc.stderr + chunk).slice(-4000)));
  proc.listening = new Promise((resolve, reject) => {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        proc.lines.push(line);
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) resolve({ url: parsed.url, port: Number(new URL(parsed.url).port) });
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`cluster node exited at start (${code ?? signal}): ${proc.stderr}`)));
  });
  proc.listening.catch(() => {});
  return proc;
}

const isRunning = (proc: NodeProcess) => proc.child.exitCode === null && proc.child.signalCode === null;

/**
 * Starts Redis, `nodes` server processes on it and a balancer in front.
 *
 * @example
 * await using cluster = await startCluster({ redisBinary });
 * const client = createClient({ baseUrl: cluster.url });
 * await cluster.stop(1);        // SIGKILL node 1
 * await cluster.restart(1);
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const redis = await startRedisServer({ binary: options.redisBinary, appendOnly: options.appendOnly });
  const redisProxy = options.redisProxy ? await createFaultProxy({ target: { port: redis.port } }).listen() : undefined;
  const procs: NodeProcess[] = [];
  let spare: NodeProcess | undefined;
  /** Starts a node with `config` in the warm spare (or a fresh process), and warms the next spare. */
  const launch = async (config: Record<string, unknown>) => {
    const proc = spare && isRunning(spare) ? spare : spawnSpare();
    spare = spawnSpare();
    proc.child.stdin!.end(`${JSON.stringify(config)}\n`);
    return { proc, ...(await proc.listening) };
  };
  const ports: number[] = [];
  const urls: string[] = [];
  const configOf = (i: number) => ({
    redisUrl: redisProxy ? `redis://127.0.0.1:${redisProxy.port}` : redis.url,
    port: ports[i] ?? 0,
    nodeId: `n${i}`,
    store: options.store,
    server: options.server,
  });
  let lb: LoadBalancer | undefined;
  const stopProc = async (proc: NodeProcess, signal: 'SIGKILL' | 'SIGTERM', timeoutMs: number) => {
    if (!isRunning(proc)) return;
    proc.child.kill(signal);
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
    await proc.exited;
    clearTimeout(timer);
  };
  const close = async () => {
    await lb?.close();
    await Promise.all([...procs, ...(spare ? [spare] : [])].map((proc) => stopProc(proc, 'SIGKILL', 1000)));
    await redisProxy?.close();
    await redis.close();
  };
  try {
    const started = await Promise.all(Array.from({ length: count }, (_, i) => launch(configOf(i))));
    for (const [i, { proc, url, port }] of started.entries()) {
      procs[i] = proc;
      urls[i] = url;
      ports[i] = port;
    }
    lb = await createLoadBalancer({ backends: urls, strategy: options.strategy ?? 'random', random: options.random }).listen();
  } catch (error) {
    await close();
    throw error;
  }
  const nodes: ClusterNode[] = Array.from({ length: count }, (_, index) => ({
    index,
    nodeId: `n${index}`,
    get url() {
      return urls[index]!;
    },
    get port() {
      return ports[index]!;
    },
    get running() {
      return isRunning(procs[index]!);
    },
    get lines() {
      return procs[index]!.lines;
    },
    stderr: () => procs[index]!.stderr,
  }));
  const balancer = lb;
  return {
    redis,
    redisProxy,
    lb: balancer,
    url: balancer.url,
    nodes,
    nodeOf: (text) => {
      const match = /^@(n\d+) /.exec(text);
      return match ? nodes.find((n) => n.nodeId === match[1]) : undefined;
    },
    stop: (i, signal = 'SIGKILL', timeoutMs = 10_000) => stopProc(procs[i]!, signal, timeoutMs),
    restart: async (i) => {
      if (isRunning(procs[i]!)) throw new Error(`cluster: node ${i} is still running`);
      const { proc } = await launch(configOf(i));
      procs[i] = proc;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
