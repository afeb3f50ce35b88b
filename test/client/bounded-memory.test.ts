import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode, Child } from '../examples/support.js';
import { ev, flush, json, makeClient, turnInfo } from './helpers.js';

const MiB = 1024 * 1024;
/** What a hostile server offers: far more than the client may take. */
const OFFER_BYTES = 400 * MiB;

/** Writes `prefix`, then filler up to OFFER_BYTES (or until the client hangs up), honouring backpressure. */
function flood(res: ServerResponse, prefix: string): void {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  res.write(prefix);
  const pump = (): void => {
    while (sent < OFFER_BYTES && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

describe('bounded memory against a hostile server (F6)', () => {
  let server: Server;
  let url: string;
  let child: Awaited<ReturnType<typeof bundleForNode>>;
  const running: Child[] = [];

  beforeAll(async () => {
    child = await bundleForNode('test/client/fixtures/hostile-child.ts');
    server = createHttpServer((req, res) => {
      if (req.method === 'POST' && req.url === '/v1/sessions') {
        res.writeHead(201, { 'content-type': 'application/json' });
        flood(res, '{"session":{"id":"');
      } else if (req.url?.startsWith('/v1/sessions/s1/poll')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        flood(res, '{"epoch":"e1","next":0,"events":[],"x":"');
      } else if (req.url?.startsWith('/v1/sessions/s1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // A line that never ends.
        flood(res, 'retry: 1000\n\ndata: ');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.dispose()));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await child.remove();
  });

  it.each([
    ['createSession', 'reply_too_large'],
    ['poll', 'reply_too_large'],
    ['sse', 'frame_too_large'],
  ])('a 400 MiB %s reply ends in a typed error (%s), the client heap under 64 MB', async (kind, code) => {
    const run = new Child(child.file, [url, kind, String(1 * MiB)]);
    running.push(run);
    expect((await run.exit(20_000)).code).toBe(0);
    const result = JSON.parse(run.stdout) as { code: string; peakHeapBytes: number };
    expect(result.code).toBe(code);
    expect(result.peakHeapBytes).toBeLessThan(64 * MiB);
  });
});

describe('a reader that never reads (F6)', () => {
  const item = (seq: number, turnId = 't1') => ev(seq, 'turn.item', turnId, { item: { n: seq } });

  it('a subscription buffers at most 10 × bufferLimit items, then its iterator throws buffer_overflow', async () => {
    const { client, transports } = makeClient({ bufferLimit: 10 });
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.open();
    // An endless stream of items (they cannot coalesce): 1,000 pushed, 100 kept.
    for (let seq = 1; seq <= 1000; seq++) transports.last.push('s1', [item(seq)]);
    const seen: number[] = [];
    const thrown = await (async () => {
      for await (const event of sub) if (event.type !== 'session.reset') seen.push(event.seq);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(thrown).toMatchObject({ name: 'TetherError', code: 'buffer_overflow' });
    // It left the connection: nothing else to stream.
    expect(transports.last.subscriptions.has('s1')).toBe(false);
    await client.close();
  });

  it("a turn's iterator overflows the same way, and its result still settles", async () => {
    const { client, transports } = makeClient({ bufferLimit: 10, transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
    });
    const turn = await client.session('s1').prompt('hi');
    transports.last.open();
    transports.last.push('s1', [ev(1, 'turn.queued', 't1', { prompt: 'hi' })]);
    for (let seq = 2; seq <= 500; seq++) transports.last.push('s1', [item(seq)]);
    transports.last.push('s1', [ev(501, 'turn.completed', 't1', { output: '' })]);
    await flush();
    expect(await turn.result).toMatchObject({ type: 'turn.completed', seq: 501 });
    let count = 0;
    await expect(
      (async () => {
        for await (const _ of turn) count++;
      })(),
    ).rejects.toMatchObject({ code: 'buffer_overflow' });
    expect(count).toBe(100);
    await client.close();
  });
});
