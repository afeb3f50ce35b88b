/** The cluster tests' Redis store settings: a lease shorter than the default keeps 21 failovers to a couple of minutes. */
import { requireRedisServer } from '../support/redis-server.js';

/**
 * The turn lease TTL the cluster tests run with. Shorter than the default (3 s) to keep the
 * suite quick, long enough that renewals (every third of it) still make it on a loaded
 * 2-core machine: at 1 s runners lost leases they were still renewing.
 */
export const LEASE_TTL_MS = 2000;

/** `redisStore` options every node of a test cluster gets. */
export function clusterStoreOptions(): Record<string, unknown> {
  return { cluster: { leaseTtlMs: LEASE_TTL_MS } };
}

/**
 * The redis-server binary for a cluster suite, or `undefined` to skip it. These suites
 * start Redis and three server processes and kill them repeatedly (minutes on a loaded
 * 2-core machine), so they run on request: `TETHER_CLUSTER=1` (`npm run test:cluster`),
 * which also runs the integration and chaos suites against a cluster.
 */
export function clusterSuiteBinary(suite: string): string | undefined {
  if (process.env.TETHER_CLUSTER !== '1') {
    process.stderr.write(`${suite}: skipped; the cluster suites run with TETHER_CLUSTER=1 (npm run test:cluster)\n`);
    return undefined;
  }
  return requireRedisServer(suite);
}
