/**
 * The kit doing its job end to end: the real client, through the fault proxy,
 * against the test server. (The client's own integration tests go further.)
 */
import { expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { createFaultProxy, createTestServer } from '../../src/testing.js';

it('a client behind a WebSocket-refusing proxy falls back to SSE and survives an SSE cut mid-turn', async () => {
  // The turn waits for the SSE connection after its first delta, so the rest really travels over SSE
  // (a fast turn can end over the client's first HTTP reads before the ladder reaches SSE).
  let sseSeen!: () => void;
  const sseConnected = new Promise<void>((resolve) => (sseSeen = resolve));
  await using server = await createTestServer({
    script: [{ delta: 'a ' }, { until: sseConnected }, { delta: 'b ' }, { delayMs: 100 }, { delta: 'c' }],
  });
  await using proxy = await createFaultProxy({ target: server.url }).listen();
  proxy.refuseWebSocket(true);
  await using client = createClient({ baseUrl: proxy.url, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });

  const session = await client.createSession();
  const sse = proxy.nextConnection({ kind: 'sse', timeoutMs: 10_000 });
  void sse.then(() => sseSeen(), () => sseSeen());
  const turn = await session.prompt('x');
  let text = '';
  const reading = (async () => {
    for await (const event of turn) if (event.type === 'turn.delta') text += event.text;
  })();
  await sse;
  expect(proxy.endAll((connection) => connection.kind === 'sse')).toBeGreaterThan(0);

  expect((await turn.result).type).toBe('turn.completed');
  await reading;
  expect(text).toBe('a b c');
  expect(proxy.stats.refusedUpgrades).toBeGreaterThan(0);
});
