// Every command through every host — the Node HTTP host, the WebSocket host
// and the msw handlers (HTTP and WebSocket) — must answer alike: the same
// success or error (code and status), the same body once ids and times are
// masked, and no prompt acknowledged before the store resolved its write.
import { setupServer } from 'msw/node';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, memoryStore, type SessionStore, type TetherServer } from '../../src/server.js';
import { createMswHandlers, scriptedAgent, type MswTether, type Script } from '../../src/testing.js';

const MSW_BASE = 'http://tether.test';
const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledFrame: 'bypass' }));
afterAll(() => msw.close());

/** A memory store whose event writes wait while the gate is shut: the test decides when a write is durable. */
class GatedStore {
  readonly store: SessionStore;
  #shut = false;
  #pending: Array<() => void> = [];
  pendingWrites = 0;

  constructor() {
    const inner = memoryStore();
    this.store = {
      load: () => inner.load(),
      saveSession: (record) => inner.saveSession(record),
      appendEvents: async (sessionId, events) => {
        if (this.#shut) {
          this.pendingWrites++;
          await new Promise<void>((resolve) => this.#pending.push(resolve));
          this.pendingWrites--;
        }
        await inner.appendEvents(sessionId, events);
      },
    };
  }

  shut(): void {
    this.#shut = true;
  }

  open(): void {
    this.#shut = false;
    for (const resolve of this.#pending.splice(0)) resolve();
  }
}

/** `hang` runs until canceled; anything else answers at once. */
const script: Script = ({ prompt }) => (prompt === 'hang' ? [{ hang: true }] : [{ delta: 'ok' }]);

interface Reply {
  ok: boolean;
  status?: number;
  body: unknown;
}

interface HttpCall {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

/** A command as each transport can send it; a WebSocket host only takes prompt, cancel and subscribe. */
type Command =
  | { type: 'prompt'; sessionId: string; prompt: string; key?: string }
  | { type: 'cancel'; sessionId: string; turnId: string; reason?: string }
  | { type: 'subscribe'; sessionId: string }
  | { type: 'http'; call: HttpCall };

interface Host {
  name: string;
  transport: 'http' | 'websocket';
  gate: GatedStore;
  /** Setup calls go over HTTP to the same server. */
  http(call: HttpCall): Promise<{ status: number; body: any }>;
  send(command: Command): Promise<Reply>;
  /** Sends raw WebSocket text and resolves with the close code it earns (WebSocket hosts only). */
  sendRaw(text: string): Promise<number>;
  close(): Promise<void>;
}

async function fetchJson(base: string, call: HttpCall): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${call.path}`, {
    method: call.method,
    headers: { 'content-type': 'application/json', ...call.headers },
    ...(call.body === undefined ? {} : { body: call.body }),
  });
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, body: null };
  }
  return { status: res.status, body: await res.json() };
}

function commandCall(command: Command): HttpCall {
  switch (command.type) {
    case 'http':
      return command.call;
    case 'prompt':
      return {
        method: 'POST',
        path: `/v1/sessions/${command.sessionId}/turns`,
        body: JSON.stringify({ prompt: command.prompt, clientId: 'parity' }),
        ...(command.key === undefined ? {} : { headers: { 'idempotency-key': command.key } }),
      };
    case 'cancel':
      return {
        method: 'POST',
        path: `/v1/sessions/${command.sessionId}/turns/${command.turnId}/cancel`,
        body: JSON.stringify({ clientId: 'parity', ...(command.reason === undefined ? {} : { reason: command.reason }) }),
      };
    case 'subscribe':
      return { method: 'GET', path: `/v1/sessions/${command.sessionId}/events` };
  }
}

function httpHost(name: string, base: string, gate: GatedStore, close: () => Promise<void>): Host {
  const http = (call: HttpCall) => fetchJson(base, call);
  return {
    name,
    transport: 'http',
    gate,
    http,
    async send(command) {
      const { status, body } = await http(commandCall(command));
      return { ok: status < 400, status, body };
    },
    sendRaw: () => Promise.reject(new Error('an HTTP host takes no WebSocket frames')),
    close,
  };
}

/** A WebSocket client speaking request/reply frames; `Socket` is `ws` (real server) or the global one (msw intercepts it). */
async function wsHost(name: string, base: string, gate: GatedStore, Socket: typeof globalThis.WebSocket, close: () => Promise<void>): Promise<Host> {
  const socket = new Socket(`${base.replace(/^http/, 'ws')}/v1/ws?clientId=parity`);
  const replies = new Map<string, (frame: any) => void>();
  let welcomed!: () => void;
  const welcome = new Promise<void>((resolve) => (welcomed = resolve));
  const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event: { code: number }) => resolve(event.code)));
  socket.addEventListener('message', (event: { data: unknown }) => {
    const frame = JSON.parse(String(event.data));
    if (frame.type === 'welcome') welcomed();
    if (frame.type === 'reply') replies.get(frame.id)?.(frame);
  });
  await welcome;
  let ids = 0;
  const http = (call: HttpCall) => fetchJson(base, call);
  return {
    name,
    transport: 'websocket',
    gate,
    http,
    async send(command) {
      const id = `r${++ids}`;
      let frame: Record<string, unknown>;
      if (command.type === 'prompt') {
        frame = { type: 'prompt', id, sessionId: command.sessionId, prompt: command.prompt, ...(command.key === undefined ? {} : { idempotencyKey: command.key }) };
      } else if (command.type === 'cancel') {
        frame = { type: 'cancel', id, sessionId: command.sessionId, turnId: command.turnId, ...(command.reason === undefined ? {} : { reason: command.reason }) };
      } else if (command.type === 'subscribe') {
        frame = { type: 'subscribe', id, sessionId: command.sessionId };
      } else throw new Error('a WebSocket host takes no plain HTTP call');
      const reply = new Promise<any>((resolve) => replies.set(id, resolve));
      socket.send(JSON.stringify(frame));
      const answer = await reply;
      return answer.ok ? { ok: true, body: answer.result } : { ok: false, status: answer.error.status, body: { error: answer.error } };
    },
    sendRaw(text) {
      socket.send(text);
      return closed;
    },
    async close() {
      socket.close();
      await close();
    },
  };
}

async function nodeServer(): Promise<{ server: TetherServer; url: string; gate: GatedStore }> {
  const gate = new GatedStore();
  const server = createServer({ agent: scriptedAgent(script), store: gate.store, logger: {} });
  const { url } = await server.listen(0, '127.0.0.1');
  return { server, url, gate };
}

function mswTether(): { tether: MswTether; gate: GatedStore } {
  const gate = new GatedStore();
  const tether = createMswHandlers({ baseUrl: MSW_BASE, script, store: gate.store });
  msw.use(...tether.handlers);
  return { tether, gate };
}

/** The four hosts, fresh for each test. */
async function startHosts(): Promise<Host[]> {
  const node = await nodeServer();
  const nodeForWs = await nodeServer();
  const { tether, gate } = mswTether();
  const hosts = [
    httpHost('node http', node.url, node.gate, () => node.server.close()),
    await wsHost('node websocket', nodeForWs.url, nodeForWs.gate, WebSocket as unknown as typeof globalThis.WebSocket, () => nodeForWs.server.close()),
    httpHost('msw http', MSW_BASE, gate, () => tether.close()),
  ];
  // The msw WebSocket shares the msw HTTP host's tether (one `ws.link` per base URL).
  hosts.push(await wsHost('msw websocket', MSW_BASE, gate, globalThis.WebSocket, async () => {}));
  return hosts;
}

let hosts: Host[] = [];
afterEach(async () => {
  for (const host of hosts.reverse()) await host.close();
  hosts = [];
  msw.resetHandlers();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The reply with ids and times masked, so replies of different servers compare. */
function mask(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => mask(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  if (typeof value === 'string') return UUID.test(value) ? '<id>' : value.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '<id>');
  if (typeof value === 'number' && (key === 'time' || key === 'createdAt')) return '<time>';
  return value;
}

type Scenario = (host: Host) => Promise<Reply>;

async function session(host: Host): Promise<string> {
  return (await host.http({ method: 'POST', path: '/v1/sessions', body: '{}' })).body.session.id;
}

/** A turn that runs until canceled, once its `turn.started` is stored (so every host reports it `running`). */
async function runningTurn(host: Host, sessionId: string, key?: string): Promise<string> {
  const created = await host.http({
    method: 'POST',
    path: `/v1/sessions/${sessionId}/turns`,
    body: JSON.stringify({ prompt: 'hang' }),
    ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
  });
  const turnId: string = created.body.turn.id;
  for (let i = 0; i < 500; i++) {
    const { body } = await host.http({ method: 'GET', path: `/v1/sessions/${sessionId}/turns/${turnId}` });
    if (body.turn.status === 'running') return turnId;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`${host.name}: the turn never started`);
}

/** Runs `scenario` on every host that can take it; all replies must be equal once masked. */
async function expectParity(scenario: Scenario, transports: Array<Host['transport']> = ['http', 'websocket']): Promise<Reply> {
  hosts = await startHosts();
  const replies: Array<{ host: string; reply: Reply }> = [];
  for (const host of hosts) {
    if (!transports.includes(host.transport)) continue;
    replies.push({ host: host.name, reply: await scenario(host) });
  }
  const [first, ...rest] = replies;
  for (const other of rest) {
    // A WebSocket reply has no success status (201 vs 200 is HTTP's to tell).
    const withWebSocket = [first!.host, other.host].some((name) => name.includes('websocket'));
    const comparable = (reply: Reply) => mask(withWebSocket && reply.ok ? { ...reply, status: undefined } : reply);
    expect(comparable(other.reply), `${other.host} answers like ${first!.host}`).toEqual(comparable(first!.reply));
  }
  return first!.reply;
}

describe('host parity: every command answers alike on every host', () => {
  it('create session (with and without metadata)', async () => {
    const plain = await expectParity((h) => h.send({ type: 'http', call: { method: 'POST', path: '/v1/sessions', body: '{}' } }), ['http']);
    expect(plain).toMatchObject({ ok: true, status: 201 });
    const meta = await expectParity(
      (h) => h.send({ type: 'http', call: { method: 'POST', path: '/v1/sessions', body: JSON.stringify({ metadata: { team: 'a' } }) } }),
      ['http'],
    );
    expect(meta.body).toMatchObject({ session: { metadata: { team: 'a' } } });
  });

  it('get session, and an unknown one → 404 session_not_found', async () => {
    const found = await expectParity(async (h) => {
      const sid = await session(h);
      await runningTurn(h, sid);
      return h.send({ type: 'http', call: { method: 'GET', path: `/v1/sessions/${sid}` } });
    }, ['http']);
    expect(found).toMatchObject({ ok: true, status: 200 });
    const missing = await expectParity((h) => h.send({ type: 'http', call: { method: 'GET', path: '/v1/sessions/nope' } }), ['http']);
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'session_not_found', status: 404 } } });
  });

  it('prompt without an idempotency key', async () => {
    const reply = await expectParity(async (h) => h.send({ type: 'prompt', sessionId: await session(h), prompt: 'hi' }));
    expect(reply).toMatchObject({ ok: true, body: { turn: { prompt: 'hi' } } });
  });

  it('prompt with an idempotency key: the repeat returns the same turn', async () => {
    const reply = await expectParity(async (h) => {
      const sid = await session(h);
      const turnId = await runningTurn(h, sid, 'k1');
      const again = await h.send({ type: 'prompt', sessionId: sid, prompt: 'hang', key: 'k1' });
      expect((again.body as any).turn.id, h.name).toBe(turnId);
      return again;
    });
    expect(reply.ok).toBe(true);
  });

  it('prompt to an unknown session → session_not_found', async () => {
    const reply = await expectParity((h) => h.send({ type: 'prompt', sessionId: 'nope', prompt: 'hi' }));
    expect(reply).toMatchObject({ ok: false, status: 404, body: { error: { code: 'session_not_found' } } });
  });

  it('get turn; an unknown turn → not_found; an unknown session → session_not_found', async () => {
    const found = await expectParity(async (h) => {
      const sid = await session(h);
      const tid = await runningTurn(h, sid);
      return h.send({ type: 'http', call: { method: 'GET', path: `/v1/sessions/${sid}/turns/${tid}` } });
    }, ['http']);
    expect(found).toMatchObject({ ok: true, body: { turn: { status: 'running' } } });
    const noTurn = await expectParity(async (h) => h.send({ type: 'http', call: { method: 'GET', path: `/v1/sessions/${await session(h)}/turns/nope` } }), ['http']);
    expect(noTurn).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const noSession = await expectParity((h) => h.send({ type: 'http', call: { method: 'GET', path: '/v1/sessions/nope/turns/nope' } }), ['http']);
    expect(noSession).toMatchObject({ status: 404, body: { error: { code: 'session_not_found' } } });
  });

  it('cancel: cancelled, then already_finished', async () => {
    const replies = await expectParity(async (h) => {
      const sid = await session(h);
      const tid = await runningTurn(h, sid);
      const first = await h.send({ type: 'cancel', sessionId: sid, turnId: tid, reason: 'user' });
      const second = await h.send({ type: 'cancel', sessionId: sid, turnId: tid });
      return { ok: first.ok && second.ok, body: [first.body, second.body] };
    });
    expect(replies.body).toEqual([{ cancelled: true }, { cancelled: false, reason: 'already_finished' }]);
  });

  it('cancel an unknown turn → not_found; in an unknown session → session_not_found', async () => {
    const noTurn = await expectParity(async (h) => h.send({ type: 'cancel', sessionId: await session(h), turnId: 'nope' }));
    expect(noTurn).toMatchObject({ ok: false, status: 404, body: { error: { code: 'not_found' } } });
    const noSession = await expectParity((h) => h.send({ type: 'cancel', sessionId: 'nope', turnId: 'nope' }));
    expect(noSession).toMatchObject({ ok: false, status: 404, body: { error: { code: 'session_not_found' } } });
  });

  it('subscribe to an unknown session → session_not_found (SSE and WebSocket)', async () => {
    const reply = await expectParity((h) => h.send({ type: 'subscribe', sessionId: 'nope' }));
    expect(reply).toMatchObject({ ok: false, status: 404, body: { error: { code: 'session_not_found' } } });
    const sse = await expectParity(async (h) => h.send({ type: 'subscribe', sessionId: await session(h) }), ['http']);
    expect(sse).toMatchObject({ ok: true, status: 200 });
  });

  it('long-poll, and an unknown session → session_not_found', async () => {
    const reply = await expectParity(async (h) => {
      const sid = await session(h);
      await runningTurn(h, sid);
      return h.send({ type: 'http', call: { method: 'GET', path: `/v1/sessions/${sid}/poll?after=0&wait=0` } });
    }, ['http']);
    expect(reply).toMatchObject({ ok: true, status: 200, body: { events: [{ type: 'turn.queued' }, { type: 'turn.started' }], next: 2 } });
    const missing = await expectParity((h) => h.send({ type: 'http', call: { method: 'GET', path: '/v1/sessions/nope/poll' } }), ['http']);
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'session_not_found' } } });
  });

  it.each([
    { name: 'create: metadata not an object', method: 'POST', path: '/v1/sessions', body: '{"metadata":5}', status: 400, code: 'invalid_body' },
    { name: 'create: not JSON', method: 'POST', path: '/v1/sessions', body: '{', status: 400, code: 'invalid_json' },
    { name: 'prompt: no prompt', method: 'POST', path: '/v1/sessions/<sid>/turns', body: '{}', status: 400, code: 'invalid_body' },
    { name: 'prompt: empty body', method: 'POST', path: '/v1/sessions/<sid>/turns', body: undefined, status: 400, code: 'invalid_body' },
    { name: 'prompt: Idempotency-Key too long', method: 'POST', path: '/v1/sessions/<sid>/turns', body: '{"prompt":"hi"}', headers: { 'idempotency-key': 'k'.repeat(257) }, status: 400, code: 'invalid_body' },
    { name: 'cancel: reason not a string', method: 'POST', path: '/v1/sessions/<sid>/turns/t/cancel', body: '{"reason":5}', status: 400, code: 'invalid_body' },
    { name: 'poll: bad cursor', method: 'GET', path: '/v1/sessions/<sid>/poll?after=-1', body: undefined, status: 400, code: 'invalid_query' },
    { name: 'unknown route', method: 'GET', path: '/v1/nothing', body: undefined, status: 404, code: 'not_found' },
    { name: 'wrong method', method: 'DELETE', path: '/v1/sessions', body: undefined, status: 405, code: 'method_not_allowed' },
  ] as Array<{ name: string; method: string; path: string; body: string | undefined; headers?: Record<string, string>; status: number; code: string }>)('bad request: $name → $status $code', async ({ method, path, body, headers, status, code }) => {
    const reply = await expectParity(async (h) => {
      const resolved = path.includes('<sid>') ? path.replace('<sid>', await session(h)) : path;
      return h.send({ type: 'http', call: { method, path: resolved, ...(body === undefined ? {} : { body }), ...(headers === undefined ? {} : { headers }) } });
    }, ['http']);
    expect(reply).toMatchObject({ ok: false, status, body: { error: { code, status } } });
  });

  it('a prompt, and its repeat with the same key, are acknowledged only after the store resolved the write (durability)', async () => {
    await expectParity(async (h) => {
      const sid = await session(h);
      h.gate.shut();
      const answered: string[] = [];
      const first = h.send({ type: 'prompt', sessionId: sid, prompt: 'hi', key: 'k1' }).then((r) => (answered.push('first'), r));
      // The write of turn.queued is pending in the store…
      for (let i = 0; i < 200 && h.gate.pendingWrites === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(h.gate.pendingWrites, `${h.name}: the write is pending`).toBeGreaterThan(0);
      // …a retry of the same prompt finds the turn, but it is not stored yet either…
      const again = h.send({ type: 'prompt', sessionId: sid, prompt: 'hi', key: 'k1' }).then((r) => (answered.push('again'), r));
      // …so neither is acknowledged for as long as the store has not resolved the write.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answered, `${h.name} acknowledged a prompt the store had not written`).toEqual([]);
      h.gate.open();
      const [one, two] = await Promise.all([first, again]);
      expect((two.body as any).turn.id).toBe((one.body as any).turn.id);
      return one;
    });
  });

  it('a WebSocket frame that is not JSON closes with 1007, one that is not a client frame with 1008', async () => {
    for (const [text, code] of [
      ['nope', 1007],
      ['{"type":"prompt"}', 1008],
    ] as const) {
      await expectParity(async (h) => ({ ok: false, body: { closed: await h.sendRaw(text) } }), ['websocket']).then((reply) =>
        expect(reply.body).toEqual({ closed: code }),
      );
      for (const host of hosts.reverse()) await host.close();
      hosts = [];
      msw.resetHandlers();
    }
  });
});
