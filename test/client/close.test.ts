import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClosedError } from '../../src/errors/index.js';
import { createClient } from '../../src/index.js';
import { flush, json, makeClient, queued, started, turnInfo, useFakeTime } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('close() (F7)', () => {
  it('emits `closed` synchronously, settles turns with client_closed, ends iterators, closes transports; idempotent', async () => {
    const { client, transports, states } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }),
    });
    const s = client.session('s1');
    const sub = s.subscribe({ after: 0 });
    const subIt = sub[Symbol.asyncIterator]();
    const turn = await s.prompt('x');
    const t = transports.last;
    t.open();
    t.push('s1', [queued(1, 't1'), started(2, 't1')]);
    const seen: string[] = [];
    client.on('state', (st) => seen.push(st.status));
    const p1 = client.close();
    expect(client.state).toEqual({ status: 'closed' });
    expect(seen).toEqual(['closed']);
    const p2 = client.close();
    expect(p2).toBe(p1);
    await p1;
    await client[Symbol.asyncDispose]();
    expect(states.filter((x) => x === 'closed')).toHaveLength(1);
    const result = await turn.result;
    expect(result).toMatchObject({ type: 'turn.error', turnId: 't1', error: { code: 'client_closed' } });
    // The subscription yields what it already had, then ends.
    expect((await subIt.next()).value).toMatchObject({ seq: 1 });
    expect((await subIt.next()).value).toMatchObject({ seq: 2 });
    expect(await subIt.next()).toEqual({ done: true, value: undefined });
    const turnEvents = [];
    for await (const e of turn) turnEvents.push(e.type);
    expect(turnEvents).toEqual(['turn.queued', 'turn.started', 'turn.error']);
    expect(t.closedByClient).toBe(true);
    expect(t.closeTimeoutMs).toBe(2000);
    // Calls after close reject with ClosedError; subscribing ends at once.
    await expect(s.prompt('y')).rejects.toBeInstanceOf(ClosedError);
    await expect(client.createSession()).rejects.toBeInstanceOf(ClosedError);
    const late = s.subscribe({ after: 0 });
    expect(await late[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
    expect(await s.turn('t5').result).toMatchObject({ error: { code: 'client_closed' } });
  });

  it('a state listener reacting to `closed` already sees a closed client', async () => {
    const { client } = makeClient({}, {}, { 'POST /v1/sessions/s1/turns': () => json(201, { turn: turnInfo('t1', 1) }) });
    let attempt: Promise<unknown> | undefined;
    client.on('state', (s) => {
      if (s.status === 'closed') attempt = client.session('s1').prompt('too late').catch((e: unknown) => e);
    });
    const sub = client.session('s1').subscribe({ after: 0 });
    await client.close();
    expect(await attempt).toBeInstanceOf(ClosedError);
    sub.close();
  });

  it('flushes a command in flight within closeTimeoutMs, rejects what is still pending after it', async () => {
    useFakeTime();
    let answer: ((r: Response) => void) | undefined;
    const { client } = makeClient({ closeTimeoutMs: 1000 }, {}, {
      'POST /v1/sessions/s1/turns': () => new Promise<Response>((r) => (answer = r)),
      'GET /v1/sessions/s1': () => new Promise<Response>(() => {}),
    });
    const delivered = client.session('s1').prompt('a');
    const stuck = client.session('s1').snapshot().catch((e: unknown) => e);
    await flush();
    const closing = client.close();
    // The prompt's reply arrives inside the flush window: delivered, not dropped (F9).
    answer!(json(201, { turn: turnInfo('t1', 1) }));
    const turn = await delivered;
    expect(turn.id).toBe('t1');
    // The client is closed, so the delivered turn is settled locally.
    expect(await turn.result).toMatchObject({ error: { code: 'client_closed' } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await stuck).toBeInstanceOf(ClosedError);
    await closing;
  });

  it('leaves no timers, sockets or handles behind (leak check)', async () => {
    await new Promise((r) => setTimeout(r, 50)); // let earlier tests' handles settle
    const before = counts(process.getActiveResourcesInfo());
    const client = createClient({
      baseUrl: 'http://127.0.0.1:9',
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
      closeTimeoutMs: 100,
    });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const sub = client.session('s1').subscribe({ after: 0 });
    // Port 9 (discard) refuses: the client keeps reconnecting with real timers and sockets.
    await new Promise((r) => setTimeout(r, 200));
    expect(client.state.status).toBe('reconnecting');
    const pending = client.session('s1').snapshot().catch((e: unknown) => e);
    await client.close();
    expect(await pending).toBeInstanceOf(Error);
    sub.close();
    await new Promise((r) => setImmediate(r));
    const after = counts(process.getActiveResourcesInfo());
    for (const [kind, n] of Object.entries(after)) expect(n, kind).toBeLessThanOrEqual(before[kind] ?? 0);
  });
});

function counts(resources: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of resources) out[r] = (out[r] ?? 0) + 1;
  return out;
}
