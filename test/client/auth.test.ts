/**
 * Client credentials (DESIGN §5): a `token` reaches the server on every
 * transport, is read again on each reconnect, and a refusal (401/403) is a
 * typed, final answer that ends only what it concerns and never loops.
 * A real server behind a loopback front that checks credentials as the
 * protocol carries them (test/client/auth-front.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, HttpError, type Client, type ClientOptions, type TransportName } from '../../src/index.js';
import { createServer, tokenAuthenticator } from '../../src/server.js';
import { startAuthFront, type AuthFront } from './auth-front.js';

type Server = ReturnType<typeof createServer>;
let server: Server;
let front: AuthFront;
const clients: Client[] = [];

beforeEach(async () => {
  server = createServer({
    agent: async function* ({ prompt }) {
      yield { type: 'delta', text: `echo ` };
      yield { type: 'delta', text: prompt };
    },
  });
  const { url } = await server.listen(0, '127.0.0.1');
  front = await startAuthFront(url, ['good']);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await front.close();
  await server.close();
});

const FAST = { initialDelayMs: 10, maxDelayMs: 50, jitter: 'none' } as const;

function client(options: Partial<ClientOptions>): Client {
  const c = createClient({ baseUrl: front.url, reconnect: FAST, requestTimeoutMs: 10_000, ...options });
  clients.push(c);
  return c;
}

async function textOf(turn: AsyncIterable<{ type: string; text?: string }>): Promise<string> {
  let text = '';
  for await (const ev of turn) if (ev.type === 'turn.delta') text += ev.text;
  return text;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a token reaches the server on every transport', () => {
  for (const transport of ['websocket', 'sse', 'poll'] as TransportName[]) {
    it(`${transport}: commands send Authorization: Bearer, the stream carries the token too (a function, called again per connect)`, async () => {
      let calls = 0;
      const c = client({ transports: [transport], token: async () => (calls++, 'good') });
      const session = await c.createSession();
      // A subscription keeps the stream open while the turn runs.
      const sub = session.subscribe({ after: 'now' });
      const turn = await session.prompt('hi');
      expect(await textOf(turn)).toBe('echo hi');
      expect((await turn.result).type).toBe('turn.completed');
      sub.close();
      expect(front.seen.every((r) => r.status === 200 && r.token === 'good')).toBe(true);
      expect(front.seen.filter((r) => r.kind === 'http' && r.method === 'POST').length).toBeGreaterThanOrEqual(2);
      const streamed = front.seen.filter((r) => (transport === 'websocket' ? r.kind === 'upgrade' : r.path.includes(transport === 'sse' ? '/events' : '/poll')));
      expect(streamed.length).toBeGreaterThanOrEqual(1);
      expect(calls).toBeGreaterThanOrEqual(3);
    });
  }

  it('a reconnect reads the token again: a rotated token reaches the new connection', async () => {
    let token = 'good';
    const c = client({ transports: ['websocket'], token: () => token });
    const session = await c.createSession();
    const sub = session.subscribe({ after: 'now' });
    const it = sub[Symbol.asyncIterator]();
    await (await session.prompt('one')).result;
    expect((await it.next()).value).toMatchObject({ type: 'turn.queued' });
    front.valid = new Set(['rotated']);
    token = 'rotated';
    front.dropAll();
    const turn = await session.prompt('two');
    expect(await textOf(turn)).toBe('echo two');
    const upgrades = front.seen.filter((r) => r.kind === 'upgrade');
    expect(upgrades.at(-1)).toMatchObject({ token: 'rotated', status: 200 });
    sub.close();
  });
});

describe('401 and 403 are typed, final, and never loop', () => {
  for (const transport of ['websocket', 'sse', 'poll'] as TransportName[]) {
    it(`${transport}: a refused token ends the subscription with unauthorized; one attempt, no reconnect loop`, async () => {
      const c = client({ transports: [transport], token: 'bad' });
      const states: string[] = [];
      c.on('state', (s) => states.push(s.status));
      const sub = c.session('s1').subscribe({ after: 0 });
      await expect(sub[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'unauthorized' });
      await sleep(300);
      const streamed = front.seen.filter((r) => r.path.includes('/s1/') || r.kind === 'upgrade');
      expect(streamed).toHaveLength(1);
      expect(c.state.status).toBe('idle');
      expect(states.filter((s) => s === 'reconnecting')).toEqual([]);
    });
  }

  it('a command refused with 401 rejects typed (HttpError unauthorized), asked once with the same token', async () => {
    const c = client({ token: () => 'bad' });
    const error = await c.createSession().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(front.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('one retry with a freshly fetched token when the function returns a different one, on a command and on a stream', async () => {
    const stale = () => {
      const tokens = ['stale', 'good'];
      return () => tokens.shift() ?? 'good';
    };
    const c = client({ transports: ['websocket'], token: stale() });
    const session = await c.createSession();
    expect(front.seen.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([401, 200]);
    await (await session.prompt('x')).result;
    const watcher = client({ transports: ['websocket'], token: stale() });
    const it = watcher.session(session.id).subscribe({ after: 0 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'turn.queued' });
    expect(front.seen.filter((r) => r.kind === 'upgrade').map((r) => [r.token, r.status])).toEqual([
      ['stale', 401],
      ['good', 200],
    ]);
  });

  it('a forbidden stream of one session ends that subscription only; another session on the same client streams on', async () => {
    const c = client({ transports: ['sse'], token: 'good' });
    const a = await c.createSession();
    const b = await c.createSession();
    front.forbidden = [`/v1/sessions/${a.id}/events`];
    const subB = b.subscribe({ after: 'now' });
    const itB = subB[Symbol.asyncIterator]();
    await (await b.prompt('b1')).result;
    expect((await itB.next()).value).toMatchObject({ type: 'turn.queued' });
    const states: string[] = [];
    c.on('state', (s) => states.push(s.status));
    const subA = a.subscribe({ after: 0 });
    await expect(subA[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'forbidden' });
    const turn = await b.prompt('b2');
    expect(await textOf(turn)).toBe('echo b2');
    expect(states).toEqual([]);
    expect(front.seen.filter((r) => r.path.startsWith(`/v1/sessions/${a.id}/events`))).toHaveLength(1);
    subB.close();
  });

  it("a turn's result is a turn.error with the code, not retryable", async () => {
    const c = client({ transports: ['sse'], token: 'good' });
    const session = await c.createSession();
    front.forbidden = [`/v1/sessions/${session.id}/events`, `/v1/sessions/${session.id}/poll`];
    const turn = await session.prompt('x');
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { code: 'forbidden', retryable: false } });
  });
});

describe('token option', () => {
  it('rejects a bad value with a TypeError naming the field', () => {
    expect(() => createClient({ baseUrl: 'http://127.0.0.1:1', token: 42 as never })).toThrow(/token/);
    expect(() => createClient({ baseUrl: 'http://127.0.0.1:1', token: '' })).toThrow(/token/);
  });
});

describe("against the server's own authenticate hook", () => {
  for (const transport of ['websocket', 'sse', 'poll'] as TransportName[]) {
    it(`${transport}: a token streams a turn; a wrong one is unauthorized, asked once`, async () => {
      const secured = createServer({
        authenticate: tokenAuthenticator({ good: 'alice' }),
        agent: async function* () {
          yield { type: 'delta', text: 'ok' };
        },
      });
      const { url } = await secured.listen(0, '127.0.0.1');
      try {
        const c = client({ baseUrl: url, transports: [transport], token: async () => 'good' });
        const session = await c.createSession();
        const sub = session.subscribe({ after: 'now' });
        const turn = await session.prompt('x');
        expect(await textOf(turn)).toBe('ok');
        // The stream (the subscription's) opens with the token too.
        for (let i = 0; i < 500 && c.state.status !== 'open'; i++) await sleep(10);
        expect(c.state).toMatchObject({ status: 'open', transport });
        sub.close();
        const bad = client({ baseUrl: url, transports: [transport], token: 'bad' });
        await expect(bad.createSession()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
        const refused = bad.session(session.id).subscribe({ after: 0 });
        await expect(refused[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'unauthorized' });
        expect(bad.state.status).toBe('idle');
      } finally {
        await Promise.all(clients.splice(0).map((x) => x.close()));
        await secured.close();
      }
    });
  }
});
