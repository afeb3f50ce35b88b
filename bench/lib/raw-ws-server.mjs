// The baseline of the live-streaming figure: a raw `ws` server that, per
// subscriber, makes the same events the reference server would (JSON, with
// sessionId, seq, epoch, time, turnId) and sends each in its own frame, as
// fast as the socket drains. No log, no store, no batching. Reports its URL
// over IPC and its CPU usage on {cmd:'cpu'}.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { deltaText } from './common.mjs';

const http = createServer();
const wss = new WebSocketServer({ server: http });
wss.on('connection', (ws) => {
  ws.once('message', (data) => {
    const { count, size } = JSON.parse(data.toString());
    let seq = 0;
    const pump = () => {
      while (seq < count) {
        seq++;
        const event = { type: 'turn.delta', sessionId: 'raw', seq, epoch: 'e', time: Date.now(), turnId: 't', text: deltaText(seq, size) };
        ws.send(JSON.stringify({ type: 'events', sessionId: 'raw', events: [event] }));
        // Backpressure like the reference server's: stop above the high-water mark, continue on drain.
        if (ws.bufferedAmount > 256 * 1024) return setImmediate(pump);
      }
    };
    pump();
  });
});
http.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${http.address().port}` }));
process.on('message', (m) => {
  if (m?.cmd === 'cpu') process.send({ reply: 'cpu', value: process.cpuUsage() });
  if (m?.cmd === 'close') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
