// Abuse probe: 2,000 session creates in a row, then 1,000 creates with 512 KiB of metadata each.
// Before: all 2,000 201; 1,000 × 512 KiB: 1,158 MiB. After: sessionsPerMinute per client.
import { ATTACKER, baseline, healthyClient, http, report, sharedFields, startServer } from './harness.mjs';

const server = await startServer();
const before = await baseline(server.url);
const healthy = await healthyClient(server.url);
const count = (statuses, s) => (statuses[s] = (statuses[s] ?? 0) + 1);
const plain = {};
for (let i = 0; i < 2000; i++) count(plain, (await http(server.url, { method: 'POST', path: '/v1/sessions', body: '{}', localAddress: ATTACKER })).status);
const body = JSON.stringify({ metadata: { pad: 'm'.repeat(512 * 1024) } });
const big = {};
let retryAfter;
for (let i = 0; i < 1000; i++) {
  const r = await http(server.url, { method: 'POST', path: '/v1/sessions', body, localAddress: ATTACKER });
  count(big, r.status);
  retryAfter ??= r.headers?.['retry-after'];
}
const latency = await healthy.stop();
report('session-flood', {
  plainStatuses: plain,
  bigMetadataStatuses: big,
  retryAfter,
  ...sharedFields(server, latency, before),
});
await server.stop();
