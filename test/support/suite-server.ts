/**
 * The server the integration and chaos suites run against: one reference server
 * (`createTestServer`), or — with `TETHER_CLUSTER=1` — a cluster of three nodes sharing
 * one real redis-server, behind the testing kit's load balancer with every connection
 * landing on a random node. Same signature either way, so each suite runs unchanged.
 *
 * The three nodes run in the test's process (each with its own `redisStore`, its own
 * Redis connections and its own core: they share nothing but Redis) so that scripted
 * agents' gates, which live in the test, still steer turns on whichever node runs them.
 * Node deaths are tested with real processes in test/cluster/.
 */
import { afterAll, beforeAll, vi } from 'vitest';
import { createServer, redisStore, type TetherServer } from '../../src/server.js';
import {
  createLoadBalancer,
  createTestServer as createSingleTestServer,
  scriptedAgent,
  type Agent,
  type ScriptedAgent,
  type TestServer,
  type TestServerOptions,
} from '../../src/testing.js';
import { requireRedisServer, startRedisServer, type RedisServer } from './redis-server.js';
import type { Clock } from '../../src/internal/clock.js';

/**
 * The clock of the in-process cluster nodes: the system clock with unref'd timers. The
 * suites' leak checks count the process's active timers to prove the *client* leaves none;
 * three nodes in the same process keep timers of their own whose number moves with the
 * cluster's work (lease renewals in flight, a node that loaded the session after a
 * reconnect), which those checks would count as the client's. Unref'd, they are not counted,
 * and the nodes still run on real time.
 */
const nodeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Whether this run drives the suites against a cluster. */
export const CLUSTER = process.env.TETHER_CLUSTER === '1';

/** How many nodes the cluster variant runs. */
export const CLUSTER_NODES = 3;

/**
 * How much longer a step may take against the cluster: three nodes, their Redis round
 * trips and a balancer in one process on a loaded 2-core machine. Suites scale their own
 * bounds by it; the file's test and hook timeouts are set from it below.
 */
export const CLUSTER_SLOWDOWN = CLUSTER ? 3 : 1;

let redis: Promise<RedisServer> | undefined;
if (CLUSTER) {
  // Every suite that imports this file gets cluster-sized timeouts without `--testTimeout`.
  vi.setConfig({ testTimeout: 30_000 * CLUSTER_SLOWDOWN, hookTimeout: 30_000 * CLUSTER_SLOWDOWN });
  // Started before the file's tests, so no test's own time budget pays for it.
  beforeAll(async () => void (await sharedRedis()));
  afterAll(async () => {
    const started = redis;
    redis = undefined;
    await (await started)?.close();
  });
}

/** One redis-server for the whole test file: a restart of the cluster (chaos `restart`) finds its sessions again. */
function sharedRedis(): Promise<RedisServer> {
  if (!redis) {
    const binary = requireRedisServer('integration suites against a cluster');
    if (!binary) throw new Error('TETHER_CLUSTER=1 needs redis-server (apt-get install redis-server)');
    redis = startRedisServer({ binary });
  }
  return redis;
}

/** `createTestServer`, or its cluster twin when `TETHER_CLUSTER=1`; see the file comment. */
export function createTestServer<A extends Agent>(options: TestServerOptions & { agent: A }): Promise<TestServer<A>>;
export function createTestServer(options?: TestServerOptions & { agent?: undefined }): Promise<TestServer<ScriptedAgent>>;
export function createTestServer(options?: TestServerOptions): Promise<TestServer>;
export function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  return CLUSTER ? createClusterTestServer(options) : createSingleTestServer(options);
}

/**
 * Three nodes on one Redis behind a random-choice balancer listening on `port` (so a
 * restart on the same port finds the same address). A `store` option is replaced by
 * the Redis store: the shared store is what is under test.
 */
async function createClusterTestServer(options: TestServerOptions): Promise<TestServer> {
  const { script, agent: givenAgent, host = '127.0.0.1', port = 0, store: _replaced, ...serverOptions } = options;
  const agent = givenAgent ?? scriptedAgent(script);
  const { url: redisUrl } = await sharedRedis();
  const nodes: TetherServer[] = [];
  const closeNodes = () => Promise.all(nodes.map((node) => node.close()));
  try {
    const urls: string[] = [];
    for (let i = 0; i < CLUSTER_NODES; i++) {
      const node = createServer({ clock: nodeClock, ...serverOptions, agent, store: redisStore({ url: redisUrl, clock: nodeClock }) });
      nodes.push(node);
      urls.push((await node.listen(0, host)).url);
    }
    const lb = await createLoadBalancer({ backends: urls, strategy: 'random', host, port }).listen();
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= lb.close().then(closeNodes).then(() => undefined));
    return { url: lb.url, port: lb.port, server: nodes[0]!, agent, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await closeNodes();
    throw error;
  }
}
