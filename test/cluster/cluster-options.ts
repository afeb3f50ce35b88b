/** The cluster tests' Redis store settings: a short turn lease keeps 21 failovers to about a minute. */

/** The turn lease TTL the cluster tests run with (the default is longer; a short one keeps the suite quick). */
export const LEASE_TTL_MS = 1000;

/** `redisStore` options every node of a test cluster gets. */
export function clusterStoreOptions(): Record<string, unknown> {
  return { cluster: { leaseTtlMs: LEASE_TTL_MS } };
}
