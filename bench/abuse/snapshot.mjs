// Abuse probe: a session with 50 turns of 1 MB prompts, then 20 concurrent GET /v1/sessions/:id.
// Before: 47.7 MiB per snapshot, RSS 589 → 1,407 MiB, healthy p99 6.7 s. After: long texts cut in snapshots.
import { ATTACKER, baseline, healthyClient, http, report, sharedFields, sleep, startServer } from './harness.mjs';

const server = await startServer();
const before = await baseline(server.url);
const created = await http(server.url, { method: 'POST', path: '/v1/sessions', body: '{}', localAddress: ATTACKER });
const sessionId = JSON.parse(created.body).session.id;
const prompt = JSON.stringify({ prompt: 'x'.repeat(1_000_000) });
for (let i = 0; i < 50; i++) await http(server.url, { method: 'POST', path: `/v1/sessions/${sessionId}/turns`, body: prompt, localAddress: ATTACKER });
await sleep(1000);
const rssBefore = server.peakRss;
const healthy = await healthyClient(server.url);
const replies = await Promise.all(Array.from({ length: 20 }, () => http(server.url, { path: `/v1/sessions/${sessionId}`, localAddress: ATTACKER })));
await sleep(1000);
const latency = await healthy.stop();
const snapshot = JSON.parse(replies[0].body);
report('snapshot', {
  turns: snapshot.turns.length,
  truncatedTurns: snapshot.turns.filter((t) => t.truncated).length,
  snapshotMiB: Buffer.byteLength(replies[0].body) / 1048576,
  statuses: [...new Set(replies.map((r) => r.status))],
  rssAfterPromptsMiB: rssBefore,
  ...sharedFields(server, latency, before),
});
await server.stop();
