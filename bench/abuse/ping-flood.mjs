// Abuse probe: a WebSocket client that floods protocol pings (up to 150 MiB, 60 s) and never reads.
// Before: pongs bypassed backpressure (RSS 75 → 1,873 MiB). After: closed once its unread output passes maxBufferedBytes.
import WebSocket from 'ws';
import { ATTACKER, baseline, healthyClient, report, sharedFields, sleep, startServer } from './harness.mjs';

const LIMIT_BYTES = 150 * 1024 * 1024;
const server = await startServer();
const before = await baseline(server.url);
const healthy = await healthyClient(server.url);
const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws`, { localAddress: ATTACKER });
ws.on('error', () => {});
await new Promise((resolve) => ws.once('open', resolve));
ws.pause();
let closeCode;
ws.once('close', (code) => (closeCode = code));
const payload = Buffer.alloc(125, 7);
let sent = 0;
const started = performance.now();
while (closeCode === undefined && sent < LIMIT_BYTES && performance.now() - started < 60_000) {
  for (let i = 0; i < 1000 && ws.readyState === ws.OPEN; i++) {
    ws.ping(payload);
    sent += payload.length;
  }
  await sleep(ws.bufferedAmount > 4 * 1024 * 1024 ? 20 : 0);
}
const ms = performance.now() - started;
await sleep(1500);
ws.terminate();
const latency = await healthy.stop();
report('ping-flood', {
  attackerQueuedMiB: sent / 1048576,
  closeCode: closeCode ?? 'open',
  ms,
  ...sharedFields(server, latency, before),
});
await server.stop();
