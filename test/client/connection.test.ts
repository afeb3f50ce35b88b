import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, ProtocolError } from '../../src/errors/index.js';
import { delta, ev, flush, json, makeClient, take, turnInfo, useFakeTime } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('connection manager: state machine (F8)', () => {
  it('stays idle until there is something to stream, then connecting → open', async () => {
    const { client, transports, states } = makeClient();
    expect(client.state).toEqual({ status: 'idle' });
    expect(transports.created).toHaveLength(0);
    const seen: Array<[string, string]> = [];
    const off = client.on('state', (s, prev) => seen.push([prev.status, s.status]));
    const sub = client.session('s1').subscribe({ after: 0 });
    expect(client.state).toEqual({ status: 'connecting', transport: 'websocket' });
    expect(transports.last.subscriptions.get('s1')).toEqual({ after: 0 });
    transports.last.open();
    expect(client.state).toEqual({ status: 'open', transport: 'websocket' });
    off();
    sub.close();
    // Nothing left to stream: back to idle, transport closed.
    expect(client.state).toEqual({ status: 'idle' });
    expect(transports.last.closedByClient).toBe(true);
    expect(seen).toEqual([
      ['idle', 'connecting'],
      ['connecting', 'open'],
    ]);
    expect(states).toEqual(['connecting:websocket', 'open:websocket', 'idle']);
    await client.close();
    expect(states.at(-1)).toBe('closed');
  });

  it('reconnects with backoff; the counter grows until a connection proves itself', async () => {
    useFakeTime();
    const random = vi.fn(() => 0.5);
    const { client, transports, states } = makeClient(
      { transports: ['websocket'] },
      { random, stableAfterMs: 5000 },
    );
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.drop(); // never opened
    expect(client.state).toEqual({ status: 'reconnecting', transport: 'websocket', attempt: 1 });
    expect(transports.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(249); // 0.5 * 500
    expect(transports.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports.created).toHaveLength(2);
    transports.last.open();
    transports.last.drop({ opened: true }); // opened but never proved itself: no reset
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 2 });
    await vi.advanceTimersByTimeAsync(500); // 0.5 * 1000
    expect(transports.created).toHaveLength(3);
    transports.last.drop();
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 3 });
    await vi.advanceTimersByTimeAsync(1000);
    // This one proves itself by staying open 5 s: the counter starts over.
    transports.last.open();
    await vi.advanceTimersByTimeAsync(5000);
    transports.last.drop({ opened: true });
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 1 });
    await vi.advanceTimersByTimeAsync(250);
    // And one that delivers an event proves itself at once.
    transports.last.open();
    transports.last.push('s1', [ev(1, 'x.custom', undefined)]);
    transports.last.drop({ opened: true });
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 1 });
    expect(states).toEqual([
      'connecting:websocket',
      'reconnecting:websocket#1',
      'open:websocket',
      'reconnecting:websocket#2',
      'reconnecting:websocket#3',
      'open:websocket',
      'reconnecting:websocket#1',
      'open:websocket',
      'reconnecting:websocket#1',
    ]);
    sub.close();
    await client.close();
  });

  it("respects the server's retry hint when it is longer than the backoff", async () => {
    useFakeTime();
    const { client, transports } = makeClient({ transports: ['sse'] }, { random: () => 0 });
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.drop({ retryAfterMs: 3000 });
    await vi.advanceTimersByTimeAsync(2999);
    expect(transports.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports.created).toHaveLength(2);
    sub.close();
    await client.close();
  });

  it('gives up after maxAttempts: subscriptions end with ConnectionError, state idle', async () => {
    useFakeTime();
    const { client, transports, errors } = makeClient({ transports: ['websocket'], reconnect: { maxAttempts: 2 } }, { random: () => 0 });
    const sub = client.session('s1').subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const next = it.next();
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    transports.last.drop();
    await expect(next).rejects.toBeInstanceOf(ConnectionError);
    expect(client.state).toEqual({ status: 'idle' });
    expect(errors.at(-1)).toMatchObject({ code: 'reconnect_failed' });
    expect(transports.created).toHaveLength(3);
    await client.close();
  });

  it('a transport error (bad frame) is reported on client.on("error") and followed by a reconnect', async () => {
    useFakeTime();
    const { client, transports, errors } = makeClient({}, { random: () => 0 });
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.open();
    const bad = new ProtocolError('frame is not JSON');
    transports.last.drop({ opened: true, error: bad, code: 1007 });
    expect(errors).toEqual([bad]);
    await vi.advanceTimersByTimeAsync(0);
    expect(transports.created).toHaveLength(2);
    sub.close();
    await client.close();
  });

  it('ignores late callbacks of a superseded attempt (F4), and says why at debug level', async () => {
    useFakeTime();
    const debug: Array<Record<string, unknown>> = [];
    const logger = { debug: (fields: Record<string, unknown>) => debug.push(fields) };
    const { client, transports } = makeClient({ logger }, { random: () => 0 });
    const sub = client.session('s1').subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const old = transports.last;
    old.open();
    old.drop({ opened: true });
    await vi.advanceTimersByTimeAsync(0);
    const fresh = transports.last;
    expect(fresh).not.toBe(old);
    // The old attempt speaks again: open, events, reset, closed — all ignored.
    old.open();
    old.push('s1', [delta(1, 'tOld', 'stale')]);
    old.reset({ sessionId: 's1', epoch: 'zz', after: 5, reason: 'epoch_changed' });
    old.drop({ opened: true });
    expect(client.state).toEqual({ status: 'reconnecting', transport: 'websocket', attempt: 1 });
    expect(debug.filter((f) => f.reason === 'superseded')).toEqual([
      { attempt: 1, reason: 'superseded' },
      { attempt: 1, reason: 'superseded' },
      { attempt: 1, reason: 'superseded' },
      { attempt: 1, reason: 'superseded' },
    ]);
    fresh.open();
    fresh.push('s1', [delta(1, 't1', 'fresh')]);
    const [first] = await take(it, 1);
    expect(first).toMatchObject({ turnId: 't1', text: 'fresh' });
    sub.close();
    await client.close();
  });
});

describe('transport ladder via the manager (F8)', () => {
  it('falls back when a transport never opens, keeps the cursor, and probes back up', async () => {
    useFakeTime();
    const { client, transports, states } = makeClient({}, { random: () => 0, upgradeAfterMs: 60_000 });
    const sub = client.session('s1').subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    // WebSocket blocked: two attempts never open → SSE.
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(transports.last.name).toBe('websocket');
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    const sse = transports.last;
    expect(sse.name).toBe('sse');
    sse.open();
    sse.push('s1', [ev(1, 'turn.queued', 't1', { prompt: 'p' }), ev(2, 'turn.started', 't1')]);
    expect((await take(it, 2)).map((e) => (e as { seq: number }).seq)).toEqual([1, 2]);
    // A drop on SSE resumes from the cursor on SSE.
    sse.drop({ opened: true });
    await vi.advanceTimersByTimeAsync(0);
    const sse2 = transports.last;
    expect(sse2.name).toBe('sse');
    expect(sse2.subscriptions.get('s1')).toEqual({ after: 2, epoch: 'e1' });
    sse2.open();
    // After upgradeAfterMs on the lower rung the top transport is probed alongside.
    await vi.advanceTimersByTimeAsync(60_000);
    const probe = transports.last;
    expect(probe.name).toBe('websocket');
    expect(probe).not.toBe(sse2);
    sse2.push('s1', [delta(3, 't1', 'a'), delta(4, 't1', 'b')]);
    expect(probe.subscriptions.get('s1')?.epoch).toBe('e1');
    probe.open();
    // Switched: the old transport is closed, the app sees one ordered stream.
    expect(sse2.closedByClient).toBe(true);
    expect(client.state).toEqual({ status: 'open', transport: 'websocket' });
    probe.push('s1', [delta(3, 't1', 'a'), delta(4, 't1', 'b'), delta(5, 't1', 'c')]);
    sse2.push('s1', [delta(6, 't1', 'stale')]); // old transport: ignored
    const got = await take(it, 3);
    expect(got.map((e) => [(e as { seq: number }).seq, (e as { text?: string }).text])).toEqual([
      [3, 'a'],
      [4, 'b'],
      [5, 'c'],
    ]);
    expect(states).toContain('open:sse');
    expect(states.at(-1)).toBe('open:websocket');
    sub.close();
    await client.close();
  });

  it('a probe that never opens leaves the current transport alone', async () => {
    useFakeTime();
    const { client, transports } = makeClient({ transports: ['websocket', 'poll'] }, { random: () => 0, upgradeAfterMs: 1000 });
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    transports.last.drop();
    await vi.advanceTimersByTimeAsync(0);
    const poll = transports.last;
    expect(poll.name).toBe('poll');
    poll.open();
    await vi.advanceTimersByTimeAsync(1000);
    const probe = transports.last;
    expect(probe.name).toBe('websocket');
    probe.drop();
    expect(client.state).toEqual({ status: 'open', transport: 'poll' });
    expect(poll.closedByClient).toBe(false);
    // It tries again one period later.
    await vi.advanceTimersByTimeAsync(1000);
    expect(transports.last).not.toBe(probe);
    expect(transports.last.name).toBe('websocket');
    sub.close();
    await client.close();
  });
});

describe('exact resume', () => {
  it('dedupes by seq and resumes from the cursor after a gap', async () => {
    useFakeTime();
    const { client, transports, errors } = makeClient({}, { random: () => 0 });
    const sub = client.session('s1').subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const t = transports.last;
    t.open();
    t.push('s1', [delta(1, 't', 'a'), delta(2, 't', 'b'), delta(2, 't', 'b'), delta(1, 't', 'a')]);
    t.push('s1', [delta(5, 't', 'gap!')]);
    expect(errors.at(-1)).toMatchObject({ code: 'sequence_gap' });
    expect(t.closedByClient).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    const t2 = transports.last;
    expect(t2.subscriptions.get('s1')).toEqual({ after: 2, epoch: 'e1' });
    t2.open();
    t2.push('s1', [delta(3, 't', 'c'), delta(4, 't', 'd'), delta(5, 't', 'e')]);
    const got = await take(it, 5);
    expect(got.map((e) => (e as { text: string }).text).join('')).toBe('abcde');
    expect(got.map((e) => (e as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5]);
    sub.close();
    await client.close();
  });

  it('yields a client-side session.reset when history is gone, then continues', async () => {
    const { client, transports } = makeClient();
    const sub = client.session('s1').subscribe({ after: 3 });
    const it = sub[Symbol.asyncIterator]();
    const t = transports.last;
    t.open();
    t.reset({ sessionId: 's1', epoch: 'e2', after: 10, reason: 'history_gone' });
    t.push('s1', [ev(11, 'turn.queued', 't', { prompt: 'x' }, 'e2')]);
    const got = await take(it, 2);
    expect(got[0]).toEqual({ type: 'session.reset', sessionId: 's1', epoch: 'e2', after: 10, reason: 'history_gone' });
    expect(got[1]).toMatchObject({ seq: 11, epoch: 'e2' });
    sub.close();
    await client.close();
  });

  it('an epoch change without a reset is treated as a broken stream', async () => {
    const { client, transports, errors } = makeClient();
    const sub = client.session('s1').subscribe({ after: 0 });
    const t = transports.last;
    t.open();
    t.push('s1', [ev(1, 'x', undefined, {}, 'e1'), ev(2, 'x', undefined, {}, 'e9')]);
    expect(errors.at(-1)).toBeInstanceOf(ProtocolError);
    expect(client.state.status).toBe('reconnecting');
    sub.close();
    await client.close();
  });

  it('serves several consumers of one session from one stream, rewinding for a late one', async () => {
    const { client, transports } = makeClient();
    const s = client.session('s1');
    const a = s.subscribe({ after: 0 });
    const t = transports.last;
    t.open();
    t.push('s1', [ev(1, 'x', undefined), ev(2, 'x', undefined)]);
    // A second consumer from 0: served from recent events, no rewind needed.
    const b = s.subscribe({ after: 0 });
    const bi = b[Symbol.asyncIterator]();
    expect((await take(bi, 2)).map((e) => (e as { seq: number }).seq)).toEqual([1, 2]);
    t.push('s1', [ev(3, 'x', undefined)]);
    expect((await take(bi, 1)).map((e) => (e as { seq: number }).seq)).toEqual([3]);
    expect((await take(a[Symbol.asyncIterator](), 3)).map((e) => (e as { seq: number }).seq)).toEqual([1, 2, 3]);
    expect(t.subscribeCalls).toHaveLength(1);
    a.close();
    b.close();
    await client.close();
  });

  it('uses the cursor store, writes the newest cursor at most every 100 ms, and flushes on close', async () => {
    useFakeTime();
    const saved = new Map<string, { epoch: string; seq: number }>();
    const writes: number[] = [];
    const cursorStore = {
      get: async (key: string) => saved.get(key),
      set: async (key: string, cursor: { epoch: string; seq: number }) => {
        writes.push(cursor.seq);
        saved.set(key, cursor);
      },
    };
    saved.set('http://tether.test/#s1', { epoch: 'e1', seq: 41 });
    const { client, transports } = makeClient({ cursorStore });
    const sub = client.session('s1').subscribe();
    await flush();
    const t = transports.last;
    expect(t.subscriptions.get('s1')).toEqual({ after: 41, epoch: 'e1' });
    t.open();
    t.push('s1', [ev(42, 'x', undefined), ev(43, 'x', undefined), ev(44, 'x', undefined)]);
    const it = sub[Symbol.asyncIterator]();
    await take(it, 2);
    await flush();
    // Throttled: nothing written within the interval…
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    // …then one write of the newest cursor the app received (not 44: not read yet).
    expect(writes).toEqual([43]);
    expect(saved.get('http://tether.test/#s1')).toEqual({ epoch: 'e1', seq: 43 });
    await take(it, 1);
    sub.close();
    await client.close();
    // close() flushes the last one without waiting for the interval.
    expect(writes).toEqual([43, 44]);
  });
});

describe('backpressure (F6)', () => {
  it('coalesces deltas of one turn beyond the buffer limit; text exact, lifecycle and terminal kept', async () => {
    const { client, transports } = makeClient({ bufferLimit: 3 });
    const sub = client.session('s1').subscribe({ after: 0 });
    const t = transports.last;
    t.open();
    const events = [ev(1, 'turn.queued', 't', { prompt: 'p' }), ev(2, 'turn.started', 't')];
    let text = '';
    for (let seq = 3; seq < 2003; seq++) {
      const piece = `<${seq}>`;
      text += piece;
      events.push(delta(seq, 't', piece));
    }
    events.push(ev(2003, 'turn.item', 't', { item: { kind: 'edit' } }));
    events.push(delta(2004, 't', '!'));
    events.push(delta(2005, 't', '?'));
    events.push(ev(2006, 'turn.completed', 't', { output: `${text}!?` }));
    t.push('s1', events);
    // The reader was slow: nothing was read while 2006 events arrived.
    const got: Array<{ type: string; seq: number; text?: string }> = [];
    for await (const e of sub) {
      got.push(e as never);
      if (e.type === 'turn.completed') break;
    }
    expect(got.length).toBe(6); // 2006 events, 6 buffered
    expect(got.map((e) => e.type)).toEqual([
      'turn.queued',
      'turn.started',
      'turn.delta',
      'turn.item',
      'turn.delta',
      'turn.completed',
    ]);
    const deltas = got.filter((e) => e.type === 'turn.delta').map((e) => e.text).join('');
    expect(deltas).toBe(`${text}!?`);
    // A coalesced delta carries the newest seq, so cursors stay right.
    expect(got.map((e) => e.seq)).toEqual([1, 2, 2002, 2003, 2005, 2006]);
    await client.close();
  });
});

describe('consumers', () => {
  it('a late consumer behind the recent window rewinds the stream; in-flight events are not a gap', async () => {
    const { client, transports, errors } = makeClient();
    const s = client.session('s1');
    const a = s.subscribe({ after: 0 });
    const t = transports.last;
    t.open();
    const many = Array.from({ length: 300 }, (_, i) => ev(i + 1, 'x', undefined));
    t.push('s1', many);
    const b = s.subscribe({ after: 5 }); // older than the 256 recent events: rewind
    expect(t.subscriptions.get('s1')).toEqual({ after: 5, epoch: 'e1' });
    t.push('s1', [ev(301, 'x', undefined)]); // sent before the server saw the rewind
    t.push('s1', Array.from({ length: 296 }, (_, i) => ev(i + 6, 'x', undefined))); // the replay: 6..301
    t.push('s1', [ev(302, 'x', undefined)]);
    expect(errors).toEqual([]);
    const got = await take(b[Symbol.asyncIterator](), 297);
    expect(got.map((e) => (e as { seq: number }).seq)).toEqual(Array.from({ length: 297 }, (_, i) => i + 6));
    const gotA = await take(a[Symbol.asyncIterator](), 302);
    expect(gotA.map((e) => (e as { seq: number }).seq)).toEqual(Array.from({ length: 302 }, (_, i) => i + 1));
    a.close();
    b.close();
    await client.close();
  });

  it('break ends a subscription (and unsubscribes); an abort signal ends it with signal.reason', async () => {
    const { client, transports } = makeClient();
    const controller = new AbortController();
    const s = client.session('s1');
    const a = s.subscribe({ after: 0 });
    const b = client.session('s2').subscribe({ after: 0, signal: controller.signal });
    const t = transports.last;
    t.open();
    t.push('s1', [ev(1, 'x', undefined)]);
    for await (const e of a) {
      expect(e).toMatchObject({ seq: 1 });
      break;
    }
    expect(t.subscriptions.has('s1')).toBe(false);
    const reason = new Error('stop');
    const next = b[Symbol.asyncIterator]().next();
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    expect(t.subscriptions.has('s2')).toBe(false);
    expect(client.state.status).toBe('idle');
    await client.close();
  });
});

describe('robustness', () => {
  it('a transport that cannot even be constructed is a failed attempt, not a throw', async () => {
    useFakeTime();
    const { client, errors, transports, states } = makeClient({ transports: ['websocket', 'sse'] }, {
      random: () => 0,
      createTransport: (name, options, events) => {
        if (name === 'websocket') throw new SyntaxError('bad URL');
        return transports.createTransport(name, options, events);
      },
    });
    const sub = client.session('s1').subscribe({ after: 0 });
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(1);
    expect(states).toEqual(['connecting:websocket', 'reconnecting:websocket#1', 'reconnecting:sse#2']);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['connection_failed', 'connection_failed']);
    // Two failures to open: the ladder moved to SSE.
    expect(transports.last.name).toBe('sse');
    transports.last.open();
    expect(client.state).toEqual({ status: 'open', transport: 'sse' });
    sub.close();
    await client.close();
  });

  it('a transport that reports closed synchronously while being created is handled', async () => {
    useFakeTime();
    let n = 0;
    const { client, transports } = makeClient({}, {
      random: () => 0,
      createTransport: (name, options, events) => {
        const t = transports.createTransport(name, options, events);
        if (++n === 1) events.closed({ opened: false });
        return t;
      },
    });
    const sub = client.session('s1').subscribe({ after: 0 });
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 1 });
    await vi.advanceTimersByTimeAsync(0);
    transports.last.open();
    expect(client.state.status).toBe('open');
    expect(transports.last.subscriptions.get('s1')).toEqual({ after: 0 });
    sub.close();
    await client.close();
  });
});

describe("reconnect delay: the client's backoff governs (F8)", () => {
  it("ignores an SSE retry: hint, and caps a server's Retry-After at reconnect.maxDelayMs", async () => {
    useFakeTime();
    const debug: Array<Record<string, unknown>> = [];
    const { client, transports } = makeClient(
      { transports: ['sse'], reconnect: { initialDelayMs: 200, maxDelayMs: 10_000 }, logger: { debug: (f: Record<string, unknown>) => debug.push(f) } },
      { random: () => 0.5 },
    );
    const sub = client.session('s1').subscribe({ after: 0 });
    transports.last.open();
    // A day-long `retry:` on the stream: a hint, not an ask. Backoff: 0.5 × 200 ms.
    transports.last.drop({ opened: true, retryHintMs: 86_400_000 });
    await vi.advanceTimersByTimeAsync(99);
    expect(transports.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports.created).toHaveLength(2);
    expect(debug.find((f) => f.delayMs !== undefined)).toMatchObject({ delayMs: 100, backoffMs: 100, retryHintMs: 86_400_000 });
    // An explicit Retry-After (a 503) raises the delay, but never past maxDelayMs.
    transports.last.drop({ opened: false, retryAfterMs: 86_400_000 });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(transports.created).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports.created).toHaveLength(3);
    sub.close();
    await client.close();
  });
});

describe('a prompt on an idle client connects alongside the request', () => {
  it('starts the transport before the prompt reply; the turn then subscribes from its own queuedSeq (F4)', async () => {
    let answer!: (r: Response) => void;
    const { client, transports, states } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': () => new Promise<Response>((resolve) => (answer = resolve)),
    });
    const prompting = client.session('s1').prompt('hi');
    await flush();
    // The request is still out, and the stream is already opening.
    expect(transports.created).toHaveLength(1);
    expect(states).toEqual(['connecting:sse']);
    expect(transports.last.subscriptions.size).toBe(0);
    answer(json(201, { turn: turnInfo('t1', 7) }));
    const turn = await prompting;
    expect(transports.created).toHaveLength(1);
    expect(transports.last.subscriptions.get('s1')).toEqual({ after: 6 });
    transports.last.open();
    transports.last.push('s1', [ev(6, 'turn.delta', 't0', { text: 'older turn' }), ev(7, 'turn.queued', 't1', { prompt: 'hi' })]);
    expect((await turn[Symbol.asyncIterator]().next()).value).toMatchObject({ type: 'turn.queued', turnId: 't1' });
    await client.close();
  });

  it('a prompt that fails leaves the client idle again', async () => {
    const { client, transports, states } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': () => json(400, { error: { code: 'bad_request', message: 'no', status: 400 } }),
    });
    await expect(client.session('s1').prompt('hi')).rejects.toMatchObject({ code: 'bad_request' });
    expect(states).toEqual(['connecting:sse', 'idle']);
    expect(transports.last.closedByClient).toBe(true);
    await client.close();
  });
});

describe('a turn accepted on an idle client reads its first events over HTTP before connecting', () => {
  it('yields them before any stream exists; the stream then continues from their cursor without duplicates (F4)', async () => {
    let polls = 0;
    let firstPage!: () => void;
    const { client, transports, http } = makeClient({ transports: ['sse'] }, { bridgeFirstEvents: true }, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
      'GET /v1/sessions/s1/poll': () =>
        polls++ === 0
          ? new Promise<Response>((resolve) => (firstPage = () => resolve(json(200, { epoch: 'e1', next: 2, events: [ev(1, 'turn.queued', 't1', { prompt: 'hi' }), delta(2, 't1', 'a')] }))))
          : json(200, { epoch: 'e1', next: 2, events: [] }),
    });
    const turn = await client.session('s1').prompt('hi');
    await flush();
    // The prompt and the first read are out; nothing connects alongside them (the handshake would compete).
    expect(transports.created).toHaveLength(0);
    expect(client.state.status).toBe('idle');
    firstPage();
    const it = turn[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'turn.queued', seq: 1 });
    expect((await it.next()).value).toMatchObject({ type: 'turn.delta', text: 'a' });
    await flush();
    // Only now the stream: from the cursor the read left.
    expect(client.state.status).toBe('connecting');
    expect(transports.last.subscriptions.get('s1')).toEqual({ after: 2, epoch: 'e1' });
    transports.last.open();
    transports.last.push('s1', [delta(2, 't1', 'a'), delta(3, 't1', 'b')]);
    expect((await it.next()).value).toMatchObject({ type: 'turn.delta', text: 'b', seq: 3 });
    await flush();
    // Once open, the bridge stops asking.
    const asked = http.calls.filter((c) => c.path.endsWith('/poll')).length;
    expect(asked).toBeLessThanOrEqual(2);
    await client.close();
  });

  it('a turn that ends within the first read never opens a stream', async () => {
    const { client, transports, states } = makeClient({ transports: ['sse'] }, { bridgeFirstEvents: true }, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
      'GET /v1/sessions/s1/poll': () =>
        json(200, { epoch: 'e1', next: 4, events: [ev(1, 'turn.queued', 't1', { prompt: 'hi' }), delta(2, 't1', 'a'), ev(3, 'turn.completed', 't1', { output: 'a' })] }),
    });
    const turn = await client.session('s1').prompt('hi');
    const seen = [];
    for await (const e of turn) seen.push(e.type);
    expect(seen).toEqual(['turn.queued', 'turn.delta', 'turn.completed']);
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'a' });
    expect(transports.created).toHaveLength(0);
    expect(states).toEqual([]);
    await client.close();
  });

  it('a session_not_found on the first read ends the turn typed, without connecting', async () => {
    const { client, transports } = makeClient({ transports: ['sse'] }, { bridgeFirstEvents: true }, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
      'GET /v1/sessions/s1/poll': () => json(404, { error: { code: 'session_not_found', message: 'gone', status: 404 } }),
    });
    const turn = await client.session('s1').prompt('hi');
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'session_not_found', retryable: false } });
    expect(transports.created).toHaveLength(0);
    await client.close();
  });

  it('a first read that fails on the network leaves the turn to the stream', async () => {
    const { client, transports } = makeClient({ transports: ['sse'] }, { bridgeFirstEvents: true, random: () => 0 }, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
      'GET /v1/sessions/s1/poll': () => Promise.reject(new TypeError('fetch failed')),
    });
    const turn = await client.session('s1').prompt('hi');
    await vi.waitFor(() => expect(transports.created).toHaveLength(1));
    expect(transports.last.subscriptions.get('s1')).toEqual({ after: 0 });
    transports.last.open();
    transports.last.push('s1', [ev(1, 'turn.queued', 't1', { prompt: 'hi' }), ev(2, 'turn.completed', 't1', { output: '' })]);
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    await client.close();
  });
});
