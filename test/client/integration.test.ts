import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/index.js';
import { fileCursorStore } from '../../src/node/file-cursor-store.js';
import { createServer } from '../../src/server.js';
import type { TransportName } from '../../src/transport/transport.js';

type Server = ReturnType<typeof createServer>;

let server: Server;
let url: string;
const clients: Client[] = [];

function client(transports: TransportName[], extra: Record<string, unknown> = {}): Client {
  const c = createClient({ baseUrl: url, transports, requestTimeoutMs: 5000, ...extra });
  clients.push(c);
  return c;
}

/** An agent that streams a few words slowly, so cancels can land mid-turn. */
async function* agent({ prompt, signal }: { prompt: string; signal: AbortSignal }) {
  const words = prompt === 'slow' ? Array.from({ length: 200 }, (_, i) => `w${i} `) : ['Hello', ', ', 'world'];
  for (const w of words) {
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, prompt === 'slow' ? 20 : 1));
    yield { type: 'delta' as const, text: w };
  }
}

beforeEach(async () => {
  server = createServer({ agent: agent as never, logger: {} as never });
  ({ url } = await server.listen(0, '127.0.0.1'));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

describe.each(['websocket', 'sse', 'poll'] as const)('against the reference server over %s', (name) => {
  it('prompts, streams the turn, and settles with turn.completed', async () => {
    const c = client([name]);
    const session = await c.createSession();
    const turn = await session.prompt('hi');
    let text = '';
    const types: string[] = [];
    for await (const ev of turn) {
      types.push(ev.type);
      if (ev.type === 'turn.delta') text += ev.text;
    }
    expect(text).toBe('Hello, world');
    expect(types[0]).toBe('turn.queued');
    expect(types.at(-1)).toBe('turn.completed');
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'Hello, world' });
    expect(c.state.status).toBe('idle');
  });

  it('two clients share a session; one cancels the other\'s turn → a normal turn.canceled for both (F1)', async () => {
    const a = client([name], { clientId: 'alice' });
    const b = client([name], { clientId: 'bob' });
    const session = await a.createSession();
    const turn = await session.prompt('slow');
    const watched = b.session(session.id).turn(turn.id);
    const it = turn[Symbol.asyncIterator]();
    while ((await it.next()).value?.type !== 'turn.delta');
    await expect(watched.cancel()).resolves.toEqual({ cancelled: true });
    const [ra, rb] = await Promise.all([turn.result, watched.result]);
    expect(ra).toMatchObject({ type: 'turn.canceled', canceledBy: 'bob' });
    expect(rb).toEqual(ra);
    await expect(turn.cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
  });
});

describe('against the reference server', () => {
  it('a cancel of an old turn leaves the new one running (F3)', async () => {
    const c = client(['websocket']);
    const session = await c.createSession();
    const old = await session.prompt('hi');
    await old.result;
    const fresh = await session.prompt('slow');
    await expect(old.cancel()).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
    const it = fresh[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'turn.queued', turnId: fresh.id });
    await fresh.cancel();
    expect(await fresh.result).toMatchObject({ type: 'turn.canceled', turnId: fresh.id });
  });

  it('subscribe yields every session event once, in order, and resumes from the file cursor store after a restart (F10)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-cursors-'));
    try {
      const first = client(['sse'], { cursorStore: fileCursorStore({ dir }) });
      const session = await first.createSession();
      const sub = session.subscribe();
      const seqs: number[] = [];
      const t1 = await session.prompt('hi');
      for await (const ev of sub) {
        seqs.push((ev as { seq: number }).seq);
        if (ev.type === 'turn.completed') break;
      }
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      await t1.result;
      await first.close();
      // "Restart": a new client with the same cursor store continues after the last seen event.
      const second = client(['poll'], { cursorStore: fileCursorStore({ dir }) });
      const s2 = second.session(session.id);
      const t2 = await s2.prompt('hi');
      const sub2 = s2.subscribe();
      const seqs2: number[] = [];
      for await (const ev of sub2) {
        seqs2.push((ev as { seq: number }).seq);
        if (ev.type === 'turn.completed' && ev.turnId === t2.id) break;
      }
      expect(seqs2[0]).toBe(seqs.at(-1)! + 1);
    } finally {
      // close() waits for pending cursor writes, so nothing writes into the directory after this.
      await Promise.all(clients.map((c) => c.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('reconnection against the reference server', () => {
  it('a server restart (1001) mid-subscription: the client reconnects and resumes exactly from its cursor', async () => {
    const { memoryStore } = await import('../../src/server.js');
    const store = memoryStore();
    await server.close();
    server = createServer({ agent: agent as never, store, logger: {} as never });
    ({ url } = await server.listen(0, '127.0.0.1'));
    const port = Number(new URL(url).port);
    const c = client(['websocket'], { reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    const states: string[] = [];
    c.on('state', (s) => states.push(s.status));
    const session = await c.createSession();
    const sub = session.subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const seqs: number[] = [];
    const t1 = await session.prompt('hi');
    for (;;) {
      const { value } = await it.next();
      seqs.push((value as { seq: number }).seq);
      if (value?.type === 'turn.completed') break;
    }
    await t1.result;
    await server.close();
    server = createServer({ agent: agent as never, store, logger: {} as never });
    await server.listen(port, '127.0.0.1');
    const t2 = await session.prompt('hi');
    for (;;) {
      const { value } = await it.next();
      seqs.push((value as { seq: number }).seq);
      if (value?.type === 'turn.completed' && value.turnId === t2.id) break;
    }
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(states).toContain('reconnecting');
    sub.close();
  });
});
