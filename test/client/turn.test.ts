import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, HttpError, TimeoutError } from '../../src/errors/index.js';
import type { TurnEvent } from '../../src/protocol/index.js';
import {
  canceled,
  completed,
  delta,
  flush,
  json,
  makeClient,
  queued,
  started,
  turnInfo,
  useFakeTime,
  type FetchCall,
} from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

const promptRoute = (id = 't1', queuedSeq = 1) => () => json(201, { turn: turnInfo(id, queuedSeq) });

async function collect(turn: AsyncIterable<TurnEvent>): Promise<TurnEvent[]> {
  const out: TurnEvent[] = [];
  for await (const e of turn) out.push(e);
  return out;
}

describe('session.prompt and turns', () => {
  it('prompts over HTTP with a generated idempotency key; the turn yields its events and settles', async () => {
    const { client, transports, http } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute() });
    const turn = await client.session('s1').prompt('hello');
    expect(turn.id).toBe('t1');
    expect(turn.sessionId).toBe('s1');
    const call = http.calls[0]!;
    expect(call.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(call.headers.get('x-tether-client')).toBe('me');
    expect(call.body).toEqual({ prompt: 'hello', clientId: 'me' });
    // A live turn is something to stream: the client connects from the turn's start.
    const t = transports.last;
    expect(t.subscriptions.get('s1')).toEqual({ after: 0 });
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1'), delta(3, 't1', 'Hel'), delta(4, 't1', 'lo'), completed(5, 't1', 'Hello')]);
    const events = await collect(turn);
    expect(events.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.delta', 'turn.completed']);
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'Hello' });
    // Turn over, nothing else to stream: idle.
    expect(client.state.status).toBe('idle');
    await client.close();
  });

  it('same idempotency key → same turn handle', async () => {
    const { client, http } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute() });
    const a = await client.session('s1').prompt('x', { idempotencyKey: 'k1' });
    const b = await client.session('s1').prompt('x', { idempotencyKey: 'k1' });
    expect(b).toBe(a);
    expect(http.calls.map((c) => c.headers.get('idempotency-key'))).toEqual(['k1', 'k1']);
    await client.close();
  });

  it("yields only its own events, ends after its terminal, drops anything later (F4)", async () => {
    const { client, transports } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute('t2', 3) });
    const turn = await client.session('s1').prompt('second');
    const t = transports.last;
    expect(t.subscriptions.get('s1')).toEqual({ after: 2 });
    t.open();
    t.push('s1', [
      queued(3, 't2'),
      delta(4, 't1', 'OLD TURN TEXT'), // another turn's leftovers on the same session
      started(5, 't2'),
      delta(6, 't2', 'new'),
      completed(7, 't2', 'new'),
      delta(8, 't2', 'after the terminal'),
    ]);
    const events = await collect(turn);
    expect(events.every((e) => e.turnId === 't2')).toBe(true);
    expect(events.map((e) => e.seq)).toEqual([3, 5, 6, 7]);
    await client.close();
  });

  it('a cancel by another client is a normal turn.canceled, never an error (F1)', async () => {
    const { client, transports } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute() });
    const turn = await client.session('s1').prompt('long job');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1'), delta(3, 't1', 'wor'), canceled(4, 't1', 'someone-else')]);
    const result = await turn.result;
    expect(result).toMatchObject({ type: 'turn.canceled', canceledBy: 'someone-else' });
    expect((await collect(turn)).at(-1)?.type).toBe('turn.canceled');
    await client.close();
  });

  it('canceling an old turn never touches the new one (F3)', async () => {
    let n = 0;
    const { client, transports, http } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': () => (++n === 1 ? json(201, { turn: turnInfo('A', 1) }) : json(201, { turn: turnInfo('B', 4) })),
      'POST /v1/sessions/s1/turns/A/cancel': () => json(200, { cancelled: false, reason: 'already_finished' }),
    });
    const s = client.session('s1');
    const a = await s.prompt('a');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 'A'), started(2, 'A'), completed(3, 'A', '')]);
    await a.result;
    const b = await s.prompt('b');
    // A was the only thing streaming, so the client went idle; B connects again from its start.
    expect(t.closedByClient).toBe(true);
    const t2 = transports.last;
    expect(t2.subscriptions.get('s1')).toEqual({ after: 3 });
    t2.open();
    t2.push('s1', [queued(4, 'B'), started(5, 'B')]);
    // The old turn's cancel is answered, names only A, and leaves B running.
    await expect(a.cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
    expect(http.calls.at(-1)?.path).toBe('/v1/sessions/s1/turns/A/cancel');
    let bSettled = false;
    void b.result.then(() => (bSettled = true));
    await flush();
    expect(bSettled).toBe(false);
    const it = b[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'turn.queued', turnId: 'B' });
    t2.push('s1', [completed(6, 'B', 'b')]);
    expect(await b.result).toMatchObject({ type: 'turn.completed', turnId: 'B' });
    await client.close();
  });

  it('cancel returns the server answer; the turn settles from the terminal event, not the reply (F5)', async () => {
    const { client, transports } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': promptRoute(),
      'POST /v1/sessions/s1/turns/t1/cancel': (c: FetchCall) => {
        expect(c.body).toEqual({ clientId: 'me' });
        return json(200, { cancelled: true });
      },
    });
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1')]);
    let settled = false;
    void turn.result.then(() => (settled = true));
    await expect(turn.cancel()).resolves.toEqual({ cancelled: true });
    await flush();
    expect(settled).toBe(false);
    t.push('s1', [canceled(3, 't1', 'me')]);
    expect(await turn.result).toMatchObject({ type: 'turn.canceled', canceledBy: 'me' });
    await client.close();
  });

  it('cancel of a turn the server does not know → {cancelled:false, reason:"not_found"}', async () => {
    const { client } = makeClient({}, {}, {
      'GET /v1/sessions/s1/turns/ghost': () => json(200, { turn: turnInfo('ghost', 1) }),
      'POST /v1/sessions/s1/turns/ghost/cancel': () => json(404, { error: { code: 'not_found', message: 'no turn', status: 404 } }),
    });
    const turn = client.session('s1').turn('ghost');
    await expect(turn.cancel()).resolves.toEqual({ cancelled: false, reason: 'not_found' });
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'not_found' } });
    await client.close();
  });

  it('settles from GET turn when the stream cannot deliver the terminal after a cancel (F5)', async () => {
    useFakeTime();
    const terminal = canceled(9, 't1', 'me');
    const { client, transports, http } = makeClient({ transports: ['sse'] }, { terminalGraceMs: 2000 }, {
      'POST /v1/sessions/s1/turns': promptRoute(),
      'POST /v1/sessions/s1/turns/t1/cancel': () => json(200, { cancelled: true }),
      'GET /v1/sessions/s1/turns/t1': () => json(200, { turn: turnInfo('t1', 1, { status: 'canceled', terminal: terminal as never }) }),
    });
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1')]);
    await turn.cancel();
    await vi.advanceTimersByTimeAsync(1999);
    expect(http.calls.some((c) => c.method === 'GET')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await turn.result).toEqual(terminal);
    // A late terminal from the stream is dropped: result settled exactly once.
    t.push('s1', [canceled(3, 't1', 'me')]);
    await client.close();
  });

  it('settles from GET turn when reconnecting keeps failing (F5)', async () => {
    useFakeTime();
    const terminal = completed(5, 't1', 'done');
    const { client, transports } = makeClient({ transports: ['websocket'] }, { random: () => 0 }, {
      'POST /v1/sessions/s1/turns': promptRoute(),
      'GET /v1/sessions/s1/turns/t1': () => json(200, { turn: turnInfo('t1', 1, { status: 'completed', terminal: terminal as never }) }),
    });
    const turn = await client.session('s1').prompt('x');
    transports.last.open();
    transports.last.push('s1', [queued(1, 't1'), started(2, 't1')]);
    transports.last.drop({ opened: true });
    await vi.advanceTimersByTimeAsync(0);
    transports.last.drop(); // attempt 2 fails too → ask the server
    await vi.advanceTimersByTimeAsync(0);
    expect(await turn.result).toEqual(terminal);
    const events = [];
    for await (const e of turn) events.push(e.type);
    expect(events).toEqual(['turn.queued', 'turn.started', 'turn.completed']);
    await client.close();
  });

  it('fetches the turn when the stream shows the next turn starting without our terminal (F5)', async () => {
    const terminal = completed(4, 't1', 'x');
    const { client, transports } = makeClient({}, {}, {
      'POST /v1/sessions/s1/turns': promptRoute(),
      'GET /v1/sessions/s1/turns/t1': () => json(200, { turn: turnInfo('t1', 1, { status: 'completed', terminal: terminal as never }) }),
    });
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1'), queued(3, 't2'), started(4, 't2')]);
    expect(await turn.result).toEqual(terminal);
    await client.close();
  });

  it('session.turn(id) attaches to a turn started elsewhere, replaying from its start', async () => {
    const { client, transports } = makeClient({}, {}, {
      'GET /v1/sessions/s1/turns/t7': () => json(200, { turn: turnInfo('t7', 10, { status: 'running' }) }),
    });
    const turn = client.session('s1').turn('t7');
    await flush(20);
    const t = transports.last;
    expect(t.subscriptions.get('s1')).toEqual({ after: 9 });
    t.open();
    t.push('s1', [queued(10, 't7'), started(11, 't7'), delta(12, 't7', 'x'), completed(13, 't7', 'x')]);
    expect((await collect(turn)).map((e) => e.seq)).toEqual([10, 11, 12, 13]);
    await client.close();
  });
});

describe('session.turn(id) through an outage (F5: a transient failure is not the turn\'s end)', () => {
  // The chaos suite's flake: a client attached to a turn by id while the server restarted; the
  // GET failed through all its retries and the turn ended with a local turn.error, though the
  // server completed it.
  it('asks for the turn again with the reconnect backoff, then settles with the server\'s terminal', async () => {
    useFakeTime();
    let down = true;
    const terminal = completed(3, 't7', 'x');
    const { client, http } = makeClient({ reconnect: { initialDelayMs: 1000, maxDelayMs: 1000, jitter: 'none' } }, {}, {
      'GET /v1/sessions/s1/turns/t7': () => {
        if (down) throw new TypeError('fetch failed');
        return json(200, { turn: turnInfo('t7', 1, { status: 'completed', terminal: terminal as never }) });
      },
    });
    const turn = client.session('s1').turn('t7');
    let settled: unknown;
    void turn.result.then((r) => (settled = r));
    // One request's own retries (200 ms doubling, jitter 0.5) are spent well within 3 s.
    await vi.advanceTimersByTimeAsync(3000);
    const failedAttempts = http.calls.length;
    expect(failedAttempts).toBeGreaterThanOrEqual(5);
    expect(settled).toBeUndefined();
    down = false;
    await vi.advanceTimersByTimeAsync(5000);
    expect(settled).toMatchObject({ type: 'turn.completed', turnId: 't7', seq: 3 });
    await client.close();
  });

  it('still ends at once on the server\'s answer (404), and a close during the backoff leaves no timer', async () => {
    useFakeTime();
    const gone = makeClient({}, {}, {
      'GET /v1/sessions/s1/turns/t8': () => json(404, { error: { code: 'not_found', message: 'no turn', status: 404 } }),
    });
    const unknown = gone.client.session('s1').turn('t8');
    await vi.advanceTimersByTimeAsync(0);
    expect(await unknown.result).toMatchObject({ type: 'turn.error', error: { code: 'not_found', retryable: false } });
    expect(gone.http.calls).toHaveLength(1);
    await gone.client.close();

    const down = makeClient({ reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' } }, {}, {
      'GET /v1/sessions/s1/turns/t9': () => {
        throw new TypeError('fetch failed');
      },
    });
    const waiting = down.client.session('s1').turn('t9');
    await vi.advanceTimersByTimeAsync(5000);
    await down.client.close();
    expect(await waiting.result).toMatchObject({ type: 'turn.error', error: { code: 'client_closed' } });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a reset that skips part of a turn (F6: the reader fell behind the server history)', () => {
  it('recovers the skipped text from turn.completed.output, so the deltas add up to it, and reports history_gone', async () => {
    const { client, transports } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute() });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1'), delta(3, 't1', 'ab')]);
    // seq 4..10 (deltas "cd", "ef", …) are gone from the server's log.
    t.reset({ sessionId: 's1', epoch: 'e1', after: 10, reason: 'history_gone' });
    t.push('s1', [delta(11, 't1', 'zz'), completed(12, 't1', 'abcdefzz')]);
    let text = '';
    const types: string[] = [];
    for await (const e of turn) {
      types.push(e.type);
      if (e.type === 'turn.delta') text += e.text;
    }
    expect(text).toBe('abcdefzz');
    expect(types).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.delta', 'turn.completed']);
    expect(errors).toEqual(['history_gone']);
    await client.close();
  });

  it('a turn queued after the skipped events is untouched and gets no error', async () => {
    const { client, transports } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute('t2', 12) });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.reset({ sessionId: 's1', epoch: 'e1', after: 11, reason: 'history_gone' });
    t.push('s1', [queued(12, 't2'), started(13, 't2'), delta(14, 't2', 'a'), delta(15, 't2', 'b'), completed(16, 't2', 'ab')]);
    const deltas: string[] = [];
    for await (const e of turn) if (e.type === 'turn.delta') deltas.push(e.text);
    expect(deltas).toEqual(['a', 'b']);
    expect(errors).toEqual([]);
    await client.close();
  });
});

describe('a reset to a new epoch (the server lost its history)', () => {
  it('a live turn asks the server for its state even when its old seq is beyond the new cursor (F5)', async () => {
    const { client, transports, http } = makeClient({}, {}, {
      'POST /v1/sessions/s1/turns': promptRoute('t1', 5),
      'GET /v1/sessions/s1/turns/t1': () => json(404, { error: { code: 'not_found', message: 'no such turn', status: 404 } }),
    });
    const turn = await client.session('s1').prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(5, 't1'), started(6, 't1')]);
    t.reset({ sessionId: 's1', epoch: 'e2', after: 0, reason: 'epoch_changed' });
    const end = await turn.result;
    expect(end).toMatchObject({ type: 'turn.error', error: { code: 'not_found' } });
    expect(http.calls.some((c) => c.method === 'GET' && c.path === '/v1/sessions/s1/turns/t1')).toBe(true);
    await client.close();
  });
});

describe('outbox (F9)', () => {
  it('sends over the open WebSocket; when the socket dies before the reply, resends over HTTP with the same key', async () => {
    const { client, transports, http } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': promptRoute() });
    const sub = client.session('s1').subscribe({ after: 0 });
    const ws = transports.last;
    ws.open();
    const p = client.session('s1').prompt('hi', { idempotencyKey: 'key-1' });
    await flush();
    expect(ws.commands.map((c) => c.frame)).toEqual([{ type: 'prompt', sessionId: 's1', prompt: 'hi', idempotencyKey: 'key-1' }]);
    ws.drop({ opened: true }); // rejects the pending command with ConnectionError
    const turn = await p;
    expect(turn.id).toBe('t1');
    expect(http.calls).toHaveLength(1);
    expect(http.calls[0]!.headers.get('idempotency-key')).toBe('key-1');
    sub.close();
    await client.close();
  });

  it('a cancel resent after its socket died still reports cancelled:true when it was ours (F9, F1)', async () => {
    const terminal = canceled(3, 't1', 'me');
    const { client, transports, http } = makeClient({}, {}, {
      'POST /v1/sessions/s1/turns/t1/cancel': () => json(200, { cancelled: false, reason: 'already_finished' }),
      'GET /v1/sessions/s1/turns/t1': () => json(200, { turn: turnInfo('t1', 1, { status: 'canceled', terminal: terminal as never }) }),
    });
    const sub = client.session('s1').subscribe({ after: 0 });
    const ws = transports.last;
    ws.open();
    const turn = client.session('s1').turn('t1');
    await flush(20);
    const cancel = turn.cancel();
    await flush(20);
    expect(ws.commands.at(-1)?.frame).toEqual({ type: 'cancel', sessionId: 's1', turnId: 't1' });
    // The server canceled the turn, but the socket died before the reply: resent over HTTP.
    ws.drop({ opened: true });
    await expect(cancel).resolves.toEqual({ cancelled: true });
    expect(http.calls.map((c) => `${c.method} ${c.path}`)).toContain('POST /v1/sessions/s1/turns/t1/cancel');
    // A cancel that was not resent keeps the server's answer.
    await expect(turn.cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
    sub.close();
    await client.close();
  });

  it('uses the WebSocket reply when it arrives', async () => {
    const { client, transports, http } = makeClient();
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.open();
    const p = client.session('s1').prompt('hi');
    await flush();
    transports.last.commands[0]!.resolve({ turn: turnInfo('t9', 1) });
    expect((await p).id).toBe('t9');
    expect(http.calls).toHaveLength(0);
    sub.close();
    await client.close();
  });

  it('retries HTTP 503 honouring Retry-After, but not 4xx', async () => {
    useFakeTime();
    let n = 0;
    const { client, http } = makeClient({}, {}, {
      'POST /v1/sessions/s1/turns': () =>
        ++n === 1
          ? json(503, { error: { code: 'shutting_down', message: 'later', status: 503 } }, { 'retry-after': '2' })
          : json(201, { turn: turnInfo('t1', 1) }),
      'POST /v1/sessions': () => json(400, { error: { code: 'invalid_body', message: 'bad', status: 400 } }),
    });
    const p = client.session('s1').prompt('x');
    await vi.advanceTimersByTimeAsync(1000);
    expect(http.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1500);
    expect((await p).id).toBe('t1');
    expect(http.calls).toHaveLength(2);
    expect(http.calls[0]!.headers.get('idempotency-key')).toBe(http.calls[1]!.headers.get('idempotency-key'));
    const err = await client.createSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_body' });
    expect(http.calls.filter((c) => c.path === '/v1/sessions')).toHaveLength(1);
    await client.close();
  });

  it('retries network errors, then rejects with a typed ConnectionError', async () => {
    useFakeTime();
    const { client, http } = makeClient({}, {}, {
      'GET /v1/sessions/s1': () => {
        throw new TypeError('fetch failed');
      },
    });
    const p = client.session('s1').snapshot().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await p).toBeInstanceOf(ConnectionError);
    expect(http.calls).toHaveLength(5);
    await client.close();
  });

  it('does not retry a failing `headers` function, nor a reply that breaks the protocol', async () => {
    useFakeTime();
    let headerCalls = 0;
    const failing = makeClient({
      headers: () => {
        headerCalls++;
        throw new TypeError('no token');
      },
    });
    const p = failing.client.session('s1').snapshot().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await p).toBeInstanceOf(ConnectionError);
    expect(headerCalls).toBe(1);
    expect(failing.http.calls).toHaveLength(0);
    await failing.client.close();

    const { client, http } = makeClient({}, {}, { 'GET /v1/sessions/s1': () => new Response('<html>', { status: 200 }) });
    const q = client.session('s1').snapshot().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await q).toMatchObject({ name: 'ProtocolError', code: 'invalid_json' });
    expect(http.calls).toHaveLength(1);
    await client.close();
  });

  it('requestTimeoutMs → TimeoutError; a user abort rejects with signal.reason', async () => {
    useFakeTime();
    const { client } = makeClient({ requestTimeoutMs: 1000 }, {}, {
      'POST /v1/sessions/s1/turns': () => new Promise<Response>(() => {}),
    });
    const p = client.session('s1').prompt('x').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await p).toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const q = client.session('s1').prompt('x', { signal: controller.signal }).catch((e: unknown) => e);
    const reason = new Error('user gave up');
    controller.abort(reason);
    expect(await q).toBe(reason);
    await client.close();
  });
});

describe('headers and snapshot', () => {
  it('re-reads the headers provider for every request and every connection attempt', async () => {
    let n = 0;
    const { client, http, transports } = makeClient(
      { headers: async () => ({ authorization: `Bearer ${++n}` }), transports: ['sse'] },
      {},
      {
        'GET /v1/sessions/s1': () =>
          json(200, {
            session: { id: 's1', epoch: 'e1', seq: 0, firstSeq: 0, createdAt: 1, activeTurnId: null, queuedTurnIds: [] },
            turns: [],
          }),
      },
    );
    const snap = await client.session('s1').snapshot();
    expect(snap.session.id).toBe('s1');
    await client.session('s1').snapshot();
    expect(http.calls.map((c) => c.headers.get('authorization'))).toEqual(['Bearer 1', 'Bearer 2']);
    const sub = client.session('s1').subscribe({ after: 0 });
    expect(await transports.last.options.getHeaders()).toEqual({ authorization: 'Bearer 3' });
    sub.close();
    await client.close();
  });
});
