// The clients under test: raw baselines (doing only the transport and
// JSON.parse) and the SDK through its public API. Each `run*` reads a session's
// log from `after` until it has seen `lastSeq`, and resolves with timing.
import WebSocket from 'ws';
import { createParser } from 'eventsource-parser';
import { createClient } from '../../dist/index.js';

function measure() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
}

const wsUrl = (base, clientId) => {
  const u = new URL('/v1/ws', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('clientId', clientId);
  return u.href;
};

let rawIds = 0;

/** Raw `ws` client: welcome → subscribe → JSON.parse each frame, count events. */
export function rawWs(base, sessionId, lastSeq, { after = 0 } = {}) {
  const stop = measure();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(base, `raw-${process.pid}-${++rawIds}`));
    let count = 0;
    let last = after;
    ws.on('error', reject);
    ws.on('close', () => reject(new Error(`raw ws closed after ${count} events`)));
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'welcome') {
        ws.send(JSON.stringify({ type: 'subscribe', id: '1', sessionId, after }));
      } else if (frame.type === 'events') {
        const evs = frame.events;
        for (let i = 0; i < evs.length; i++) {
          const ev = evs[i];
          if (ev.seq !== last + 1) return reject(new Error(`raw ws: seq ${ev.seq} after ${last}`));
          last = ev.seq;
          count++;
        }
        if (last >= lastSeq) {
          const r = stop();
          ws.removeAllListeners('close');
          ws.on('close', () => {});
          ws.close(1000);
          resolve({ ...r, events: count });
        }
      }
    });
  });
}

/** Raw fetch + eventsource-parser + JSON.parse. */
export async function rawSse(base, sessionId, lastSeq, { after = 0 } = {}) {
  const stop = measure();
  const ac = new AbortController();
  const res = await fetch(new URL(`/v1/sessions/${sessionId}/events?after=${after}`, base), {
    headers: { accept: 'text/event-stream' },
    signal: ac.signal,
  });
  if (!res.ok) throw new Error(`raw sse: HTTP ${res.status}`);
  let count = 0;
  let last = after;
  let error;
  const parser = createParser({
    onEvent(e) {
      if (e.event && e.event !== 'message') return;
      const ev = JSON.parse(e.data);
      if (ev.seq !== last + 1) error ??= new Error(`raw sse: seq ${ev.seq} after ${last}`);
      last = ev.seq;
      count++;
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (last < lastSeq && !error) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`raw sse: stream ended after ${count} events`);
      parser.feed(value);
    }
  } finally {
    ac.abort();
    reader.cancel().catch(() => {});
  }
  if (error) throw error;
  return { ...stop(), events: count };
}

/** Raw long-poll: fetch + JSON.parse (body.json()), `after = next`. */
export async function rawPoll(base, sessionId, lastSeq, { after = 0 } = {}) {
  const stop = measure();
  let count = 0;
  let last = after;
  while (last < lastSeq) {
    const res = await fetch(new URL(`/v1/sessions/${sessionId}/poll?after=${last}&wait=1000`, base));
    if (!res.ok) throw new Error(`raw poll: HTTP ${res.status}`);
    const body = JSON.parse(await res.text());
    for (const ev of body.events) {
      if (ev.seq !== last + 1) throw new Error(`raw poll: seq ${ev.seq} after ${last}`);
      last = ev.seq;
      count++;
    }
    last = Math.max(last, body.next);
  }
  return { ...stop(), events: count };
}

/** The SDK: `session.subscribe({ after })` over one forced transport; iterate until `lastSeq`. */
export async function sdkSubscribe(base, sessionId, lastSeq, { after = 0, transport = 'websocket', clientOptions = {} } = {}) {
  const stop = measure();
  const client = createClient({ baseUrl: base, transports: [transport], ...clientOptions });
  let count = 0;
  let coalesced = 0;
  let last = after;
  let result;
  try {
    const sub = client.session(sessionId).subscribe({ after });
    for await (const ev of sub) {
      // A delta may stand for several (the client coalesces consecutive deltas when its buffer is full, F6).
      if (ev.seq !== last + 1 && !(ev.seq > last && ev.type === 'turn.delta')) {
        throw new Error(`sdk ${transport}: seq ${ev.seq} after ${last} (${ev.type})`);
      }
      if (ev.seq !== last + 1) coalesced += ev.seq - last - 1;
      last = ev.seq;
      count++;
      if (last >= lastSeq) break;
    }
    // `events` counts the seqs covered (what the reader received), `yielded` the iterations.
    result = { ...stop(), events: count + coalesced, yielded: count, coalesced };
  } finally {
    await client.close();
  }
  return result;
}

export const runners = {
  'raw-ws': (b, s, l, o) => rawWs(b, s, l, o),
  'sdk-ws': (b, s, l, o) => sdkSubscribe(b, s, l, { ...o, transport: 'websocket' }),
  // Diagnostic: the SDK with the `ws` package injected instead of the default globalThis.WebSocket (undici).
  'sdk-ws-ws': (b, s, l, o) => sdkSubscribe(b, s, l, { ...o, transport: 'websocket', clientOptions: { WebSocket } }),
  'raw-sse': (b, s, l, o) => rawSse(b, s, l, o),
  'sdk-sse': (b, s, l, o) => sdkSubscribe(b, s, l, { ...o, transport: 'sse' }),
  'raw-poll': (b, s, l, o) => rawPoll(b, s, l, o),
  'sdk-poll': (b, s, l, o) => sdkSubscribe(b, s, l, { ...o, transport: 'poll' }),
};
