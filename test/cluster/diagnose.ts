/** What a failed cluster test prints: each watcher's state and last events, and the session's log tail on each live node. */
import type { Cluster } from '../support/cluster.js';
import { serverLog, type Watcher } from './watchers.js';

export async function diagnose(cluster: Cluster, sessionId: string, watchers: readonly Watcher[]): Promise<string> {
  const lines: string[] = [];
  for (const w of watchers) {
    const last = w.events.slice(-2).map((e) => `${e.event.type}#${(e.event as { seq?: number }).seq}`);
    lines.push(`${w.name}: state ${JSON.stringify(w.rec.client.state)}, ${w.events.length} events, last ${last.join(' ')}, errors ${w.rec.errors.map((e) => e.code).join(',')}`);
  }
  for (const node of cluster.nodes) {
    if (!node.running) {
      lines.push(`${node.nodeId}: down`);
      continue;
    }
    try {
      const log = await serverLog(node.url, sessionId);
      lines.push(`${node.nodeId}: log ${log.length} events, tail ${log.slice(-3).map((e) => `${e.type}#${e.seq}`).join(' ')}; stderr ${node.stderr().slice(-500)}`);
    } catch (error) {
      lines.push(`${node.nodeId}: ${String(error)}`);
    }
  }
  return lines.join('\n');
}
