/**
 * Process boundaries: a subscriber process that records its cursor in the
 * file cursor store and exits, and a second process that resumes with exactly
 * the rest (F10); no handle or timer left in this process after `close()`,
 * and a child process using the client exits on its own after `close()` even
 * after its connection was cut (F7).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { buildChild, gate, grown, resources, runChild, settledResources } from './helpers.js';

let dir: string;
let server: TestServer | undefined;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-process-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await proxy?.close();
  await server?.close();
  server = proxy = undefined;
});

/** Subscribes with the file cursor store; prints `seq <n> <type>` per event; stops after `stopAfter` events or at the turn's terminal. */
const SUBSCRIBER = `
  import { createClient } from '@tether';
  import { fileCursorStore } from '@tether/server';
  const [baseUrl, sessionId, cursorDir, transport, stopAfter] = process.argv.slice(2);
  const client = createClient({ baseUrl, transports: [transport], cursorStore: fileCursorStore({ dir: cursorDir }) });
  const sub = client.session(sessionId).subscribe();
  let n = 0;
  for await (const ev of sub) {
    console.log(ev.type === 'session.reset' ? 'reset' : 'seq ' + ev.seq + ' ' + ev.type);
    n += 1;
    if (n >= Number(stopAfter) || ev.type === 'turn.completed') break;
  }
  await client.close();
  console.log('closed');
`;

describe('process-restart resume with the file cursor store (F10)', () => {
  it.each(['websocket', 'sse', 'poll'] as const)('%s: the second process gets exactly the events the first did not', async (transport) => {
    const g = gate();
    server = await createTestServer({
      script: [{ delta: 'a' }, { delta: 'b' }, { delta: 'c' }, { until: g.promise }, { delta: 'd' }, { delta: 'e' }],
    });
    const cursorDir = join(dir, `cursors-${transport}`);
    const file = await buildChild(dir, `subscriber-${transport}`, SUBSCRIBER);
    // The session and its turn, made by a third party.
    const owner = createClient({ baseUrl: server.url, transports: ['sse'] });
    try {
      const session = await owner.createSession();
      const turn = await owner.session(session.id).prompt('go');
      // Process 1: reads 4 events (queued, started, a, b) and exits.
      const first = await runChild(file, [server.url, session.id, cursorDir, transport, '4']);
      expect(await first.exit()).toBe(0);
      expect(first.stderr()).toBe('');
      const seqs1 = first.lines.filter((l) => l.startsWith('seq ')).map((l) => Number(l.split(' ')[1]));
      expect(seqs1).toEqual([1, 2, 3, 4]);
      // Meanwhile the turn goes on; then process 2 resumes from the stored cursor.
      g.open();
      expect((await turn.result).type).toBe('turn.completed');
      const second = await runChild(file, [server.url, session.id, cursorDir, transport, '100']);
      expect(await second.exit()).toBe(0);
      expect(second.stderr()).toBe('');
      expect(second.lines).not.toContain('reset');
      const seqs2 = second.lines.filter((l) => l.startsWith('seq ')).map((l) => Number(l.split(' ')[1]));
      const total = (await turn.result).seq;
      // Exactly the rest: no overlap, no gap.
      expect(seqs2).toEqual(Array.from({ length: total - 4 }, (_, i) => 5 + i));
      expect(second.lines.at(-2)).toMatch(/turn\.completed$/);
    } finally {
      g.open();
      await owner.close();
    }
  });
});

describe('leaks (F7)', () => {
  it.each(['websocket', 'sse', 'poll'] as const)('%s: no handle or timer survives close(), even after a drop and a hanging turn', async (transport) => {
    server = await createTestServer({ script: ({ prompt }) => (prompt === 'hang' ? [{ delta: 'x' }, { hang: true }] : [{ delta: 'y' }]) });
    proxy = await createFaultProxy({ target: server.url }).listen();
    // Sockets count when they lead to the proxy: those are the client's.
    const before = resources(proxy.port);
    const client = createClient({ baseUrl: proxy.url, transports: [transport], reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    const session = await client.createSession();
    const sub = session.subscribe({ after: 0 });
    const it = sub[Symbol.asyncIterator]();
    const done = await session.prompt('quick');
    expect((await done.result).type).toBe('turn.completed');
    const hanging = await session.prompt('hang');
    while ((await it.next()).value?.type !== 'turn.delta');
    const reconnected = proxy.nextConnection({ kind: transport === 'poll' ? 'http' : transport, timeoutMs: 10_000 });
    proxy.reset();
    await reconnected;
    // The check can fail: while the client is live, it holds sockets and timers of its own.
    expect(Object.keys(grown(before, resources(proxy.port))).length).toBeGreaterThan(0);
    await client.close();
    expect((await hanging.result)).toMatchObject({ type: 'turn.error', error: { code: 'client_closed' } });
    // Buffered events may still be read; then the subscription ends (bounded: it cannot grow after close).
    let rest = 0;
    while (!(await it.next()).done) expect(++rest).toBeLessThan(50);
    // Sockets close asynchronously after the client's FIN: wait for that, bounded.
    expect(await settledResources(before, 3000, proxy.port)).toEqual({});
  });

  it('a child process using the client through a dropping proxy exits on its own after close()', async () => {
    const g = gate();
    server = await createTestServer({ script: [{ delta: 'a' }, { until: g.promise }, { delta: 'b' }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    const file = await buildChild(
      dir,
      'exiter',
      `
      import { createClient } from '@tether';
      const client = createClient({ baseUrl: process.argv[2], reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
      const session = await client.createSession();
      const sub = session.subscribe({ after: 0 });
      const turn = await session.prompt('hi');
      for await (const ev of turn) if (ev.type === 'turn.delta') console.log('delta ' + ev.text);
      await client.close();
      console.log('end ' + (await turn.result).type);
      `,
    );
    const child = await runChild(file, [proxy.url]);
    try {
      await child.line((l) => l === 'delta a');
      const reconnected = proxy.nextConnection({ kind: 'websocket', timeoutMs: 10_000 });
      expect(proxy.endAll()).toBeGreaterThan(0);
      await reconnected;
      g.open();
      // Exits by itself: no process.exit() in the child, so any leftover handle would keep it alive.
      expect(await child.exit(8000)).toBe(0);
      expect(child.stderr()).toBe('');
      expect(child.lines).toEqual(['delta a', 'delta b', 'end turn.completed']);
    } finally {
      g.open();
      child.kill();
    }
  });
});
