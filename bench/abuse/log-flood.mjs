// Abuse probe: 2,000 requests aborted mid-body, and 2,000 WebSocket frames that are not JSON.
// Before: every aborted body logged as an error (2,000 lines in 2.6 s). After: not errors; repeated lines collapse.
import { connect } from 'node:net';
import WebSocket from 'ws';
import { ATTACKER, baseline, healthyClient, report, sharedFields, sleep, startServer } from './harness.mjs';

const server = await startServer();
const before = await baseline(server.url);
const { port } = new URL(server.url);
const healthy = await healthyClient(server.url);
const started = performance.now();
for (let batch = 0; batch < 20; batch++) {
  await Promise.all(
    Array.from({ length: 100 }, () =>
      new Promise((resolve) => {
        const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress: ATTACKER }, () => {
          socket.write('POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"meta');
          setTimeout(() => socket.destroy(), 5);
        });
        socket.on('error', () => {});
        socket.on('close', resolve);
      }),
    ),
  );
}
const abortMs = performance.now() - started;
const afterAborts = server.logLines;
// Sockets that each send one bad frame: closed 1007; the close is not an error either.
for (let batch = 0; batch < 80; batch++) {
  await Promise.all(
    Array.from({ length: 25 }, () =>
      new Promise((resolve) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws`, { localAddress: ATTACKER });
        ws.on('error', () => {});
        ws.on('open', () => ws.send('not json'));
        ws.on('close', resolve);
        ws.on('unexpected-response', () => resolve());
      }),
    ),
  );
  await sleep(100); // stay under the connections-per-client limit while the closes settle
}
await sleep(500);
const latency = await healthy.stop();
report('log-flood', {
  abortedBodies: 2000,
  abortMs,
  logLinesAfterAborts: afterAborts,
  badFrameSockets: 2000,
  logLinesTotal: server.logLines,
  ...sharedFields(server, latency, before),
});
await server.stop();
