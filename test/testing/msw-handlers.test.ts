import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createMswHandlers, type MswHandlersOptions, type MswTether, type ScriptedAgent } from '../../src/testing.js';

const BASE = 'http://tether.test';
let tether: MswTether;
const server = setupServer();

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
afterEach(async () => {
  server.resetHandlers();
  await tether?.close();
});

function use(options: Omit<MswHandlersOptions, 'baseUrl' | 'agent'> = {}): MswTether<ScriptedAgent> {
  const scripted = createMswHandlers({ baseUrl: BASE, ...options });
  // A scripted tether's agent is typed as one: no cast needed.
  expectTypeOf(scripted.agent).toEqualTypeOf<ScriptedAgent>();
  tether = scripted;
  server.use(...scripted.handlers);
  return scripted;
}

async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${BASE}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function session(): Promise<string> {
  return (await call('/v1/sessions', { body: {} })).body.session.id;
}

/** Reads SSE until `done` matches or the stream ends/errors; returns events, ids and how it ended. */
async function readSse(path: string, done: (e: any) => boolean, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${BASE}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: any[] = [];
  let raw = '';
  let buffer = '';
  let ending: 'matched' | 'ended' | 'error' = 'ended';
  try {
    outer: for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      raw += value;
      buffer += value;
      let at: number;
      while ((at = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data === undefined) continue;
        const event = JSON.parse(data.slice(6));
        events.push(event);
        if (done(event)) {
          ending = 'matched';
          break outer;
        }
      }
    }
  } catch {
    ending = 'error';
  } finally {
    controller.abort();
  }
  return { events, raw, ending };
}

const terminal = (e: any) => ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type);

describe('createMswHandlers: HTTP', () => {
  it('creates sessions, queues prompts with idempotency, reports turns and snapshots', async () => {
    use();
    const sid = await session();
    const first = await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'hi' }, headers: { 'idempotency-key': 'k1' } });
    expect(first.status).toBe(201);
    const again = await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'hi' }, headers: { 'idempotency-key': 'k1' } });
    expect(again).toMatchObject({ status: 200, body: { turn: { id: first.body.turn.id } } });
    const { events } = await readSse(`/v1/sessions/${sid}/events`, terminal);
    expect(events.at(-1)).toMatchObject({ type: 'turn.completed', output: 'echo: hi' });
    const turn = await call(`/v1/sessions/${sid}/turns/${first.body.turn.id}`);
    expect(turn.body.turn.status).toBe('completed');
    const snapshot = await call(`/v1/sessions/${sid}`);
    expect(snapshot.body.turns).toHaveLength(1);
  });

  it('answers bad input and unknown ids with the protocol error body', async () => {
    use();
    const sid = await session();
    expect(await call(`/v1/sessions/${sid}/turns`, { body: '{nope' })).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 3 } })).toMatchObject({ status: 400, body: { error: { code: 'invalid_body' } } });
    expect(await call('/v1/sessions/nope')).toMatchObject({ status: 404, body: { error: { code: 'session_not_found' } } });
    expect(await call(`/v1/sessions/${sid}/turns/nope/cancel`, { body: {} })).toMatchObject({ status: 404 });
  });

  it('cancels a hanging turn; a second cancel reports already_finished', async () => {
    const t = use({ script: [{ delta: 'x' }, { hang: true }] });
    const sid = await session();
    const started = t.agent.nextCall();
    const { body } = await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    await started;
    const cancel = `/v1/sessions/${sid}/turns/${body.turn.id}/cancel`;
    expect((await call(cancel, { body: { clientId: 'a' } })).body).toEqual({ cancelled: true });
    expect((await call(cancel, { body: { clientId: 'b' } })).body).toEqual({ cancelled: false, reason: 'already_finished' });
    const { events } = await readSse(`/v1/sessions/${sid}/events?after=0`, terminal);
    expect(events.at(-1)).toMatchObject({ type: 'turn.canceled', canceledBy: 'a' });
  });

  it('long-polls events from a cursor', async () => {
    use({ script: [{ delta: 'a' }, { delta: 'b' }] });
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    const seen: any[] = [];
    let after = 0;
    while (!seen.some(terminal)) {
      const { body } = await call(`/v1/sessions/${sid}/poll?after=${after}&wait=1000`);
      seen.push(...body.events);
      after = body.next;
    }
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.at(-1).output).toBe('ab');
  });
});

describe('createMswHandlers: SSE', () => {
  it('streams retry, ids and data, and resumes from Last-Event-ID', async () => {
    use({ script: [{ delta: 'one ' }, { delta: 'two' }] });
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    const full = await readSse(`/v1/sessions/${sid}/events`, terminal);
    expect(full.raw.startsWith('retry: 1000\n\n')).toBe(true);
    expect(full.raw).toContain('id: 1\ndata: ');
    const resumed = await readSse(`/v1/sessions/${sid}/events?after=0`, terminal, { 'last-event-id': '3' });
    expect(resumed.events.map((e) => e.seq)).toEqual([4, 5]);
  });

  it('sends a reset when the epoch changed', async () => {
    use();
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    const { raw } = await readSse(`/v1/sessions/${sid}/events?after=2&epoch=old`, terminal);
    expect(raw).toContain('event: reset\ndata: {');
    expect(raw).toContain('"reason":"epoch_changed"');
  });

  it('dropStreamsAfter(n) errors the stream after n events; resuming gets the rest', async () => {
    const t = use({ script: [{ delta: 'a' }, { delta: 'b' }, { delta: 'c' }] });
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    await readSse(`/v1/sessions/${sid}/events`, terminal); // the turn has finished
    t.faults.dropStreamsAfter(2);
    const cut = await readSse(`/v1/sessions/${sid}/events`, () => false);
    // msw in Node surfaces the body error as the end of the body; either way no terminal arrived.
    expect(['error', 'ended']).toContain(cut.ending);
    expect(cut.events.map((e) => e.seq)).toEqual([1, 2]);
    t.faults.heal();
    const rest = await readSse(`/v1/sessions/${sid}/events`, terminal, { 'last-event-id': '2' });
    expect(rest.events.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
  });

  it('slowStreams(ms) spaces events out', async () => {
    const t = use({ script: [{ delta: 'a' }] });
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    t.faults.slowStreams(30);
    const began = Date.now();
    const { events } = await readSse(`/v1/sessions/${sid}/events`, terminal);
    expect(events).toHaveLength(4);
    expect(Date.now() - began).toBeGreaterThanOrEqual(4 * 30 - 10);
  });

  it('close() ends open streams', async () => {
    const t = use({ script: [{ hang: true }] });
    const sid = await session();
    const started = t.agent.nextCall();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    await started;
    const reading = readSse(`/v1/sessions/${sid}/events`, () => false);
    await t.close();
    const { events, ending } = await reading;
    expect(ending).toBe('ended');
    expect(events.at(-1)).toMatchObject({ type: 'turn.error', error: { code: 'shutting_down' } });
  });
});

describe('createMswHandlers: faults on commands', () => {
  it('failNext(n) answers the next n commands with the injected error', async () => {
    const t = use();
    t.faults.failNext(2, { status: 500, code: 'boom' });
    expect(await call('/v1/sessions', { body: {} })).toMatchObject({ status: 500, body: { error: { code: 'boom', status: 500 } } });
    expect((await call('/v1/sessions', { body: {} })).status).toBe(500);
    expect((await call('/v1/sessions', { body: {} })).status).toBe(201);
    expect(() => t.faults.failNext(0)).toThrow(/`count`/);
    expect(() => t.faults.dropStreamsAfter(-1)).toThrow(/`n`/);
  });

  it('rejects invalid options with a TypeError naming the field', () => {
    expect(() => createMswHandlers({ baseUrl: 'nope' })).toThrow(/`baseUrl`/);
    expect(() => createMswHandlers({ baseUrl: 'ws://x.test' })).toThrow(/`baseUrl`/);
    expect(() => createMswHandlers({ baseUrl: BASE, heartbeatMs: -1 })).toThrow(/`heartbeatMs`/);
    expect(() => createMswHandlers({ baseUrl: BASE, script: [], agent: async function* () {} })).toThrow(/`script` or `agent`/);
  });
});

/** A raw WebSocket to the msw handlers, with the frames it received. */
function openSocket(query = '?clientId=c1') {
  const socket = new WebSocket(`ws://tether.test/v1/ws${query}`);
  const frames: any[] = [];
  const waiters: Array<() => void> = [];
  socket.addEventListener('message', (event) => {
    frames.push(JSON.parse(String(event.data)));
    for (const w of waiters.splice(0)) w();
  });
  const until = async (predicate: (frames: any[]) => boolean) => {
    while (!predicate(frames)) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener('close', resolve));
  return { socket, frames, until, closed };
}

describe('createMswHandlers: WebSocket', () => {
  const events = (frames: any[]) => frames.filter((f) => f.type === 'events').flatMap((f) => f.events);

  it('welcomes, subscribes, prompts and cancels over one socket', async () => {
    use({ script: [{ delta: 'hi' }, { hang: true }] });
    const ws = openSocket();
    await ws.until((f) => f.some((x) => x.type === 'welcome'));
    expect(ws.frames[0]).toMatchObject({ type: 'welcome', clientId: 'c1' });
    const sid = await session();
    ws.socket.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: sid, after: 0 }));
    ws.socket.send(JSON.stringify({ type: 'prompt', id: 'p', sessionId: sid, prompt: 'go' }));
    await ws.until((f) => f.some((x) => x.type === 'reply' && x.id === 'p'));
    const turnId = ws.frames.find((x) => x.id === 'p').result.turn.id;
    await ws.until((f) => events(f).some((e) => e.type === 'turn.delta'));
    ws.socket.send(JSON.stringify({ type: 'cancel', id: 'c', sessionId: sid, turnId }));
    // The cancel's reply comes once the cancel is stored: before or after its event, either order.
    await ws.until((f) => events(f).some(terminal) && f.some((x) => x.id === 'c'));
    expect(ws.frames.find((x) => x.id === 'c')).toMatchObject({ ok: true, result: { cancelled: true } });
    expect(events(ws.frames).at(-1)).toMatchObject({ type: 'turn.canceled', canceledBy: 'c1' });
    expect(events(ws.frames).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    ws.socket.send(JSON.stringify({ type: 'ping', time: 7 }));
    await ws.until((f) => f.some((x) => x.type === 'pong'));
    ws.socket.close(1000);
  });

  it('replies not_found for an unknown turn and injected errors as ok:false', async () => {
    const t = use();
    const ws = openSocket();
    const sid = await session();
    ws.socket.send(JSON.stringify({ type: 'cancel', id: 'c', sessionId: sid, turnId: 'nope' }));
    await ws.until((f) => f.some((x) => x.id === 'c'));
    t.faults.failNext(1, { status: 503, code: 'unavailable' });
    ws.socket.send(JSON.stringify({ type: 'prompt', id: 'p', sessionId: sid, prompt: 'go' }));
    await ws.until((f) => f.filter((x) => x.type === 'reply').length === 2);
    expect(ws.frames.find((x) => x.id === 'c')).toMatchObject({ ok: false, error: { code: 'not_found', status: 404 } });
    expect(ws.frames.find((x) => x.id === 'p')).toMatchObject({ ok: false, error: { code: 'unavailable', status: 503 } });
    ws.socket.close(1000);
  });

  it('closes 1007 on a non-JSON frame', async () => {
    use();
    const ws = openSocket();
    await ws.until((f) => f.length > 0);
    ws.socket.send('not json');
    expect((await ws.closed).code).toBe(1007);
  });

  it('dropStreamsAfter(n) closes the socket without a clean close after n events', async () => {
    const t = use({ script: [{ delta: 'a' }, { delta: 'b' }] });
    t.faults.dropStreamsAfter(3);
    const ws = openSocket();
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'p' } });
    ws.socket.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: sid }));
    const closed = await ws.closed;
    expect(closed.code).toBe(1006);
    expect(events(ws.frames).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('refuseWebSocket(true) closes before the welcome', async () => {
    const t = use();
    t.faults.refuseWebSocket(true);
    const ws = openSocket();
    const closed = await ws.closed;
    expect(closed.code).toBe(1006);
    expect(ws.frames).toEqual([]);
  });
});

describe('createMswHandlers: input requests', () => {
  const ASK = { kind: 'approval', prompt: 'Deploy?', options: [{ id: 'yes', label: 'Yes' }, { id: 'no', label: 'No' }] };

  it('HTTP: the respond route — first answer wins, later ones already_answered, unknown ones 404, bad option 400', async () => {
    const t = use({ script: [{ ask: ASK }, { delta: 'done' }] });
    const sid = await session();
    const turnId = (await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'go' } })).body.turn.id;
    const { events } = await readSse(`/v1/sessions/${sid}/events?after=0`, (e) => e.type === 'turn.input_requested');
    const requestId = events.at(-1).requestId;
    const path = `/v1/sessions/${sid}/turns/${turnId}/respond`;
    expect(await call(path, { body: { requestId, answer: { option: 'maybe' } } })).toMatchObject({ status: 400, body: { error: { code: 'invalid_answer' } } });
    expect(await call(path, { body: { requestId, answer: { option: 'yes' }, clientId: 'alice' } })).toEqual({ status: 200, body: { accepted: true } });
    expect(await call(path, { body: { requestId, answer: { option: 'no' }, clientId: 'bob' } })).toEqual({
      status: 200,
      body: { accepted: false, reason: 'already_answered' },
    });
    expect(await call(path, { body: { requestId: 'nope', answer: { option: 'no' } } })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await call(`/v1/sessions/${sid}/turns/nope/respond`, { body: { requestId, answer: { option: 'no' } } })).toMatchObject({ status: 404 });
    const all = await readSse(`/v1/sessions/${sid}/events?after=0`, terminal);
    expect(all.events.find((e) => e.type === 'turn.input_answered')).toMatchObject({ requestId, answeredBy: 'alice', source: 'client' });
    expect(t.agent.answers).toEqual([{ status: 'answered', answer: { option: 'yes' }, answeredBy: 'alice', source: 'client' }]);
  });

  it('WebSocket: the respond frame, answered as the connection’s client', async () => {
    const t = use({ script: [{ ask: ASK }, { delta: 'done' }] });
    const { socket, frames, until } = openSocket('?clientId=c9');
    const evs = () => frames.filter((f) => f.type === 'events').flatMap((f) => f.events);
    await until((f) => f.some((x) => x.type === 'welcome'));
    const sid = await session();
    socket.send(JSON.stringify({ type: 'subscribe', id: 's', sessionId: sid, after: 0 }));
    socket.send(JSON.stringify({ type: 'prompt', id: 'p', sessionId: sid, prompt: 'go' }));
    await until(() => evs().some((e) => e.type === 'turn.input_requested'));
    const request = evs().find((e) => e.type === 'turn.input_requested');
    socket.send(JSON.stringify({ type: 'respond', id: 'r1', sessionId: sid, turnId: request.turnId, requestId: request.requestId, answer: { option: 'no' } }));
    socket.send(JSON.stringify({ type: 'respond', id: 'r2', sessionId: sid, turnId: request.turnId, requestId: request.requestId, answer: { option: 'yes' } }));
    await until((f) => evs().some(terminal) && f.some((x) => x.id === 'r2'));
    expect(frames.find((x) => x.id === 'r1')).toMatchObject({ ok: true, result: { accepted: true } });
    // The same client sending a different answer is a second answer, not a resend.
    expect(frames.find((x) => x.id === 'r2')).toMatchObject({ ok: true, result: { accepted: false, reason: 'already_answered' } });
    expect(evs().find((e) => e.type === 'turn.input_answered')).toMatchObject({ answeredBy: 'c9', answer: { option: 'no' } });
    expect(t.agent.answers).toEqual([{ status: 'answered', answer: { option: 'no' }, answeredBy: 'c9', source: 'client' }]);
    socket.close(1000);
  });

  it('inputPolicy answers in memory too', async () => {
    const t = use({ script: [{ ask: ASK }], inputPolicy: () => ({ option: 'yes' }) });
    const sid = await session();
    await call(`/v1/sessions/${sid}/turns`, { body: { prompt: 'go' } });
    const { events } = await readSse(`/v1/sessions/${sid}/events?after=0`, terminal);
    expect(events.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.input_requested', 'turn.input_answered', 'turn.completed']);
    expect(t.agent.answers).toEqual([{ status: 'answered', answer: { option: 'yes' }, answeredBy: 'policy', source: 'policy' }]);
  });
});
