// Abuse probe: a 12 KB body nested 6,000 deep, 100 times.
// Before: 500 (stack overflow), a session left in memory. After: 400 invalid_json, nothing created.
import { ATTACKER, baseline, healthyClient, http, report, sharedFields, startServer } from './harness.mjs';

const server = await startServer();
const before = await baseline(server.url);
const healthy = await healthyClient(server.url);
const body = `{"metadata":{"a":${'['.repeat(6000)}${']'.repeat(6000)}}}`;
const statuses = {};
let error;
for (let i = 0; i < 100; i++) {
  const r = await http(server.url, { method: 'POST', path: '/v1/sessions', body, localAddress: ATTACKER });
  statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  error ??= JSON.parse(r.body).error.code;
}
const health = await http(server.url, { path: '/v1/health' });
const latency = await healthy.stop();
report('deep-json', {
  bodyBytes: body.length,
  statuses,
  errorCode: error,
  sessionsInMemoryAfter: JSON.parse(health.body).sessionsInMemory,
  healthStatus: health.status,
  ...sharedFields(server, latency, before),
});
await server.stop();
