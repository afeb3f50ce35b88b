/** The load balancer's options, their defaults, and their checks. */
import { describeValue } from '../internal/describe-value.js';
import { isPort, parseTarget, type FaultProxyTarget } from './fault-proxy-options.js';

/** How the balancer picks a backend for a new connection. */
export type BalanceStrategy = 'round-robin' | 'random';

/** Options of `createLoadBalancer`. */
export interface LoadBalancerOptions {
  /**
   * The servers to spread connections over, in order (their index is what
   * `kill(i)` / `revive(i)` take): URLs (`http://127.0.0.1:4317`; only host and
   * port are used) or `{ host, port }`. At least one.
   */
  backends: readonly FaultProxyTarget[];
  /**
   * `'round-robin'` takes the live backends in turn; `'random'` picks one
   * uniformly with `random()`.
   * @default 'round-robin'
   */
  strategy?: BalanceStrategy;
  /**
   * The source of chance for `'random'`: returns a number in [0, 1). Inject a
   * seeded one to make a run repeatable.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to listen on; `0` picks a free one.
   * @default 0
   */
  port?: number;
}

/** {@link LoadBalancerOptions} after defaults, with the backends resolved. */
export interface ResolvedLoadBalancerOptions {
  backends: ReadonlyArray<{ host: string; port: number }>;
  strategy: BalanceStrategy;
  random: () => number;
  host: string;
  port: number;
}

/** Defaults of {@link LoadBalancerOptions}. */
export const LOAD_BALANCER_DEFAULTS = {
  strategy: 'round-robin',
  random: Math.random,
  host: '127.0.0.1',
  port: 0,
} as const satisfies Required<Omit<LoadBalancerOptions, 'backends'>>;

/** The options checked, with defaults and the backends resolved: each bad field is a `TypeError` naming it. */
export function resolveLoadBalancerOptions(options: LoadBalancerOptions): ResolvedLoadBalancerOptions {
  const fail = (message: string) => new TypeError(`createLoadBalancer: ${message}`);
  if (typeof options !== 'object' || options === null) {
    throw fail(`\`options\` must be an object with \`backends\`, got ${describeValue(options)}`);
  }
  if (!Array.isArray(options.backends) || options.backends.length === 0) {
    throw fail(`\`backends\` must be a non-empty array of URLs or { host, port }, got ${describeValue(options.backends)}`);
  }
  const backends = options.backends.map((backend, i) => {
    const resolved = parseTarget(backend);
    if (!resolved) throw fail(`\`backends[${i}]\` must be a URL with a host and port, or { host, port }, got ${describeValue(backend)}`);
    return resolved;
  });
  const strategy = options.strategy ?? LOAD_BALANCER_DEFAULTS.strategy;
  if (strategy !== 'round-robin' && strategy !== 'random') {
    throw fail(`\`strategy\` must be 'round-robin' or 'random', got ${describeValue(strategy)}`);
  }
  const random = options.random ?? LOAD_BALANCER_DEFAULTS.random;
  if (typeof random !== 'function') throw fail(`\`random\` must be a function returning a number in [0, 1), got ${describeValue(random)}`);
  const host = options.host ?? LOAD_BALANCER_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw fail(`\`host\` must be a non-empty string, got ${describeValue(host)}`);
  const port = options.port ?? LOAD_BALANCER_DEFAULTS.port;
  if (!isPort(port)) throw fail(`\`port\` must be an integer 0–65535, got ${describeValue(port)}`);
  return { backends, strategy, random, host, port };
}
