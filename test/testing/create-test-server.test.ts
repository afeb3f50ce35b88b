import { once } from 'node:events';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import { createFaultProxy, createTestServer, type ScriptedAgent, type TestServer } from '../../src/testing.js';
import { wsUrl } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(options?: Parameters<typeof createTestServer>[0]): Promise<TestServer> {
  const server = await createTestServer(options);
  cleanups.push(() => server.close());
  return server;
}

async function post(url: string, body: unknown = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function newTurn(baseUrl: string, prompt: string): Promise<{ sessionId: string; turnId: string }> {
  const { body: created } = await post(`${baseUrl}/v1/sessions`);
  const sessionId = created.session.id as string;
  const { body } = await post(`${baseUrl}/v1/sessions/${sessionId}/turns`, { prompt });
  return { sessionId, turnId: body.turn.id as string };
}

/** Reads a session's SSE stream until an event matches; returns every event seen. */
async function sseUntil(baseUrl: string, sessionId: string, done: (event: any) => boolean): Promise<any[]> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/v1/sessions/${sessionId}/events?after=0`, {
    headers: { accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: any[] = [];
  let buffer = '';
  try {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return events;
      buffer += value;
      let at: number;
      while ((at = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const data = block.split('\n').find((line) => line.startsWith('data: '));
        if (data === undefined) continue;
        const event = JSON.parse(data.slice(6));
        events.push(event);
        if (done(event)) return events;
      }
    }
  } finally {
    controller.abort();
  }
}

const isTerminal = (e: any) => ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type);

describe('createTestServer', () => {
  it('serves the protocol on 127.0.0.1 with the echo script by default', async () => {
    const server = await createTestServer();
    cleanups.push(() => server.close());
    // A scripted test server's agent is typed as one: no cast needed.
    expectTypeOf(server.agent).toEqualTypeOf<ScriptedAgent>();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { sessionId } = await newTurn(server.url, 'hi there');
    const events = await sseUntil(server.url, sessionId, isTerminal);
    expect(events.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.delta', 'turn.delta', 'turn.completed']);
    expect(events.at(-1).output).toBe('echo: hi there');
    expect(server.agent.calls.map((c) => c.prompt)).toEqual(['hi there']);
  });

  it('plays a script: items, then an error → turn.error agent_error', async () => {
    const server = await start({ script: [{ delta: 'a' }, { item: { kind: 'tool' } }, { error: 'boom' }], logger: {} });
    const { sessionId } = await newTurn(server.url, 'x');
    const events = await sseUntil(server.url, sessionId, isTerminal);
    expect(events.find((e) => e.type === 'turn.item')?.item).toEqual({ kind: 'tool' });
    expect(events.at(-1)).toMatchObject({ type: 'turn.error', error: { code: 'agent_error' } });
  });

  it('a hanging turn runs until canceled → turn.canceled', async () => {
    const server = await createTestServer({ script: [{ delta: 'working' }, { hang: true }] });
    cleanups.push(() => server.close());
    const started = server.agent.nextCall();
    const { sessionId, turnId } = await newTurn(server.url, 'x');
    await started;
    const stream = sseUntil(server.url, sessionId, isTerminal);
    const cancel = await post(`${server.url}/v1/sessions/${sessionId}/turns/${turnId}/cancel`, { clientId: 'tester' });
    expect(cancel).toEqual({ status: 200, body: { cancelled: true } });
    const events = await stream;
    expect(events.at(-1)).toMatchObject({ type: 'turn.canceled', canceledBy: 'tester' });
  });

  it('takes a full agent instead of a script, and rejects both at once', async () => {
    const server = await start({
      agent: async function* () {
        yield { type: 'delta' as const, text: 'custom' };
      },
    });
    const { sessionId } = await newTurn(server.url, 'x');
    expect((await sseUntil(server.url, sessionId, isTerminal)).at(-1).output).toBe('custom');
    await expect(createTestServer({ script: [], agent: async function* () {} })).rejects.toThrow(/`script` or `agent`/);
    await expect(createTestServer({ port: -1 })).rejects.toThrow(/`port`/);
  });

  it('works behind the fault proxy: refused WebSocket, buffered SSE, healed', async () => {
    const server = await start({ script: [{ delta: 'through the proxy' }] });
    const proxy = await createFaultProxy({ target: server.url }).listen();
    cleanups.push(() => proxy.close());

    proxy.refuseWebSocket(true);
    const ws = new WebSocket(wsUrl(proxy.url, '/v1/ws?clientId=c1'));
    ws.on('error', () => {});
    const [, res] = await once(ws, 'unexpected-response');
    expect(res.statusCode).toBe(403);
    res.resume();

    const { sessionId } = await newTurn(proxy.url, 'x');
    const events = await sseUntil(proxy.url, sessionId, isTerminal);
    expect(events.at(-1).output).toBe('through the proxy');

    proxy.heal();
    const open = new WebSocket(wsUrl(proxy.url, '/v1/ws?clientId=c1'));
    cleanups.push(() => open.terminate());
    const [welcome] = await once(open, 'message');
    expect(JSON.parse(String(welcome))).toMatchObject({ type: 'welcome', clientId: 'c1' });
  });

  it('closes cleanly with await using', async () => {
    let url: string;
    {
      await using server = await createTestServer();
      url = server.url;
      expect((await post(`${url}/v1/sessions`)).status).toBe(201);
    }
    await expect(fetch(`${url}/v1/sessions`, { method: 'POST' })).rejects.toThrow();
  });
});
