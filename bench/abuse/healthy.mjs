// The abuse probes' healthy client, run by harness.mjs's healthyClient() in a process of its own:
// argv = server URL, pause between calls in ms. Sends 'ready' once its session exists; on 'stop'
// it finishes the call in flight and sends back every call as [start (epoch ms), duration (ms)].
import { http } from './harness.mjs';

const [url, everyMs] = [process.argv[2], Number(process.argv[3])];
const created = await http(url, { method: 'POST', path: '/v1/sessions', body: '{}' });
const sessionId = JSON.parse(created.body).session.id;
const calls = [];
let failures = 0;
let running = true;
process.once('message', () => (running = false));
process.send('ready');
for (let i = 0; running; i++) {
  const [started, t0] = [Date.now(), performance.now()];
  // Well within the default 120 prompts/min: every 10th round prompts, the others read.
  const r = i % 10 === 0
    ? await http(url, { method: 'POST', path: `/v1/sessions/${sessionId}/turns`, body: JSON.stringify({ prompt: 'hello' }) })
    : await http(url, { path: `/v1/sessions/${sessionId}` });
  calls.push([started, performance.now() - t0]);
  if (r.status < 200 || r.status >= 300) failures++;
  await new Promise((resolve) => setTimeout(resolve, everyMs));
}
process.send({ calls, failures }, () => process.disconnect());
