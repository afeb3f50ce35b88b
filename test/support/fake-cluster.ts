/** A one-node cluster for core tests: it holds every lease it takes until the test takes one away or cuts its live feed. */
import type { ClusterHandlers, SessionCluster } from '../../src/server/core/session-cluster.js';

/**
 * One node's view of a cluster on the memory store, standing in for Redis so the moment a
 * lease is lost (or the node's feed breaks) is exact. A command for a session this node does
 * not hold answers 503, as a cluster whose runner is away would.
 */
export function fakeCluster() {
  const owned = new Set<string>();
  let handlers: ClusterHandlers | undefined;
  const cluster: SessionCluster = {
    nodeId: 'n1',
    leaseTtlMs: 3000,
    start: async (h) => void (handlers = h),
    acquire: async (id) => (owned.add(id), true),
    owns: (id) => owned.has(id),
    release: async (id) => void owned.delete(id),
    send: async (command) =>
      owned.has(command.sessionId) ? handlers!.command(command) : { ok: false, code: 'store_unavailable', message: 'The node running this session does not answer', status: 503 },
    follow: async () => {},
    unfollow: () => {},
    close: async () => {},
  };
  return {
    cluster,
    /** The lease lapsed: this node learns it lost the session. */
    lose(sessionId: string) {
      owned.delete(sessionId);
      handlers!.lost(sessionId);
    },
    /** The node's live feed of the cluster broke (the store is unreachable). */
    unreachable: () => handlers!.unreachable(),
  };
}
