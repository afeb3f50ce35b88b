// Abuse probe: 1,000 idle sockets, one client sending a header byte a second, one sending a body byte a second.
// Before: slow headers cut at 90 s, slow body at 300 s, idle sockets kept forever. After: headersTimeoutMs / requestTimeoutMs.
import { connect } from 'node:net';
import { ATTACKER, baseline, healthyClient, report, sharedFields, sleep, startServer } from './harness.mjs';

const IDLE = 1000;
const server = await startServer();
const before = await baseline(server.url);
const { port } = new URL(server.url);
const healthy = await healthyClient(server.url);
const started = performance.now();
const open = (onClose) => {
  const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress: ATTACKER });
  socket.on('error', () => {});
  let first = '';
  socket.on('data', (d) => (first ||= d.toString('latin1').split('\r\n')[0]));
  socket.on('close', () => onClose(performance.now() - started, first));
  return socket;
};
const idleClosed = [];
for (let i = 0; i < IDLE; i++) open((ms) => idleClosed.push(ms));
const trickle = (socket, text) => {
  let i = 0;
  const timer = setInterval(() => (socket.destroyed || i >= text.length ? clearInterval(timer) : socket.write(text[i++])), 1000);
};
let headersCut;
const slowHeaders = open((ms, reply) => (headersCut = { ms, reply }));
trickle(slowHeaders, `GET /v1/health HTTP/1.1\r\nHost: x\r\n${'X-Slow: 1\r\n'.repeat(20)}\r\n`);
let bodyCut;
const slowBody = open((ms, reply) => (bodyCut = { ms, reply }));
slowBody.write('POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n');
trickle(slowBody, `{"metadata":{"pad":"${'x'.repeat(170)}"}}`);
const deadline = performance.now() + 120_000;
while ((idleClosed.length < IDLE || !headersCut || !bodyCut) && performance.now() < deadline) await sleep(250);
const latency = await healthy.stop();
idleClosed.sort((a, b) => a - b);
report('slow-clients', {
  idleSockets: IDLE,
  idleClosed: idleClosed.length,
  idleClosedByMs: idleClosed.at(-1),
  slowHeadersCutMs: headersCut?.ms,
  slowHeadersReply: headersCut?.reply,
  slowBodyCutMs: bodyCut?.ms,
  slowBodyReply: bodyCut?.reply,
  ...sharedFields(server, latency, before),
});
await server.stop();
