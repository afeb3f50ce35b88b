// Abuse probe: 1,000 SSE streams that never read, then 10 prompts of 1 MB (turn.queued carries the prompt).
// Before: RSS 113 → 2,149 MiB, healthy p99 7.8 s. After: at most maxConnectionsPerClient streams per client.
import { request } from 'node:http';
import { ATTACKER, baseline, healthyClient, http, report, sharedFields, sleep, startServer } from './harness.mjs';

const STREAMS = 1000;
const server = await startServer();
const before = await baseline(server.url);
const created = await http(server.url, { method: 'POST', path: '/v1/sessions', body: '{}', localAddress: ATTACKER });
const sessionId = JSON.parse(created.body).session.id;
const healthy = await healthyClient(server.url);
const opening = Date.now();
const statuses = {};
const requests = [];
await Promise.all(
  Array.from({ length: STREAMS }, () =>
    new Promise((resolve) => {
      const req = request(new URL(`/v1/sessions/${sessionId}/events`, server.url), { localAddress: ATTACKER, agent: false });
      requests.push(req);
      req.on('response', (res) => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        res.socket.pause();
        res.pause();
        resolve();
      });
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end();
    }),
  ),
);
const prompting = Date.now();
const prompt = JSON.stringify({ prompt: 'x'.repeat(1_000_000) });
const promptStatuses = {};
for (let i = 0; i < 10; i++) {
  const r = await http(server.url, { method: 'POST', path: `/v1/sessions/${sessionId}/turns`, body: prompt, localAddress: ATTACKER });
  promptStatuses[r.status] = (promptStatuses[r.status] ?? 0) + 1;
}
const prompted = Date.now();
await sleep(5000);
const latency = await healthy.stop();
// The two parts of the attack apart: 1,000 stream requests at once, then the 1 MB events fanned out.
const phase = (from, to) => {
  const { calls, p99, max } = latency.between(from, to);
  return { calls, p99Ms: p99, maxMs: max, ms: to - from };
};
for (const req of requests) req.destroy();
report('stalled-sse', {
  streams: STREAMS,
  streamStatuses: statuses,
  promptStatuses,
  healthyWhileOpening: phase(opening, prompting),
  healthyWhilePrompting: phase(prompting, prompted + 5000),
  ...sharedFields(server, latency, before),
});
await server.stop();
