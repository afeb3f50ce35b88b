import { describe, expect, it } from 'vitest';
import { HttpError, type ClientState } from '../../src/index.js';
import { delta, json, makeClient, turnInfo } from './helpers.js';
import { useReferenceServer } from './reference-server.js';

/** Streams slowly while the unknown session is being answered, so the healthy turn overlaps it. */
async function* agent({ signal }: { signal: AbortSignal }) {
  for (let i = 0; i < 20; i++) {
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, 5));
    yield { type: 'delta' as const, text: `w${i} ` };
  }
}

const ref = useReferenceServer(agent);

describe.each(['websocket', 'sse', 'poll'] as const)('an unknown session over %s', (name) => {
  it('ends its subscriptions, turns and prompts with session_not_found; the connection and another session are untouched', async () => {
    const c = ref.client({ transports: [name] });
    const healthy = await c.createSession();
    const turn = await healthy.prompt('go');
    const it = turn[Symbol.asyncIterator]();
    // The connection is open and carrying the healthy turn.
    expect((await it.next()).value?.type).toBe('turn.queued');
    const status = (): string => c.state.status;
    while (status() !== 'open') await new Promise((r) => setTimeout(r, 2));

    const states: ClientState[] = [];
    const errors: unknown[] = [];
    c.on('state', (s) => states.push(s));
    c.on('error', (e) => errors.push(e));

    const gone = c.session('no-such-session');
    const sub = gone.subscribe({ after: 0 });
    const subscribed = (async () => {
      for await (const _ of sub) {
        // nothing: the session does not exist
      }
    })();
    const thrown = await subscribed.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({ code: 'session_not_found', status: 404 });

    // A turn attached by id on the gone session settles typed, not retryable.
    const attached = gone.turn('t-1');
    expect(await attached.result).toMatchObject({
      type: 'turn.error',
      error: { code: 'session_not_found', retryable: false },
    });
    // A prompt is a call: it rejects with the same typed error.
    await expect(gone.prompt('hello')).rejects.toMatchObject({ code: 'session_not_found', status: 404 });

    // The healthy turn streams on to its end, on the same connection.
    let last: string | undefined;
    for (let r = await it.next(); !r.done; r = await it.next()) last = r.value.type;
    expect(last).toBe('turn.completed');
    // 0 reconnects, 0 state changes while both sessions lived: only the idle once nothing is left to stream.
    expect(states).toEqual([{ status: 'idle' }]);
    expect(errors).toEqual([]);
  });

  it('a subscription alone on the client ends typed and the client goes idle without reconnecting', async () => {
    const c = ref.client({ transports: [name] });
    const statuses: string[] = [];
    c.on('state', (s) => statuses.push(s.status));
    const sub = c.session('missing').subscribe({ after: 0 });
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'session_not_found' });
    expect(statuses).not.toContain('reconnecting');
    expect(c.state.status).toBe('idle');
  });
});

describe('a final answer about a session, through the manager', () => {
  it("ends that session's turn with a non-retryable turn.error and leaves another session's stream alone", async () => {
    const { client, transports, states } = makeClient({ transports: ['sse'] }, {}, {
      'POST /v1/sessions/gone/turns': () => json(201, { turn: turnInfo('t1', 1, { sessionId: 'gone' }) }),
    });
    const other = client.session('s1').subscribe({ after: 0 });
    const otherIt = other[Symbol.asyncIterator]();
    transports.last.open();
    const turn = await client.session('gone').prompt('hi');
    const seen = states.length;
    transports.last.events.sessionEnded('gone', new HttpError(404, 'Unknown session: gone', { code: 'session_not_found' }));
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'session_not_found', retryable: false } });
    expect(transports.last.subscriptions.has('gone')).toBe(false);
    expect(transports.last.subscriptions.has('s1')).toBe(true);
    transports.last.push('s1', [delta(1, 'tx', 'still here')]);
    expect((await otherIt.next()).value).toMatchObject({ text: 'still here' });
    expect(states.length).toBe(seen);
    expect(transports.created).toHaveLength(1);
    other.close();
    await client.close();
  });

  it('a command answered session_not_found ends the subscriptions of that session', async () => {
    const { client, transports } = makeClient({}, {}, {
      'GET /v1/sessions/gone': () => json(404, { error: { code: 'session_not_found', message: 'Unknown session: gone', status: 404 } }),
    });
    const sub = client.session('gone').subscribe({ after: 0 });
    transports.last.open();
    await expect(client.session('gone').snapshot()).rejects.toMatchObject({ code: 'session_not_found' });
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'session_not_found' });
    await client.close();
  });
});
