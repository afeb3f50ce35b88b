/**
 * Bugs the integration, chaos and fuzz suites found, each pinned by a test
 * that states the correct behaviour. While a bug is open its test is
 * `it.fails` (it passes because the assertion fails); when the fix lands,
 * vitest reports "expected to fail" and the marker must be removed — the test
 * then stays as a regression test.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TurnEvent } from '../../src/index.js';
import { fileStore, type SessionStore } from '../../src/server.js';
import { createFaultProxy, type FaultProxy, type TestServer } from '../../src/testing.js';
// The server under test: one node, or a cluster with TETHER_CLUSTER=1 (test/support/suite-server.ts).
import { createTestServer } from '../support/suite-server.js';
import { recordingClient, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
let recorded: Recorded | undefined;
let dir: string | undefined;

afterEach(async () => {
  await recorded?.client.close();
  // A leaked proxy socket (bug 2) must not hang the suite: bounded.
  await Promise.race([proxy?.close(), new Promise((r) => setTimeout(r, 2000).unref())]);
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = proxy = recorded = dir = undefined;
});

describe('bug 1 (fixed in cc17b0f) — client: a turn settled from the HTTP fallback (F5) skipped its events', () => {
  // Was: src/client/turn.ts `TurnImpl.#check()` → `#finish(reply.turn.terminal)` ended the iterator with
  // the fetched terminal while the stream still owed the events between `this.seq` and `terminal.seq`:
  // the handle yielded [turn.canceled] instead of [queued, started, delta, canceled]. Now the iterator
  // catches up from the long-poll endpoint first. Found by test/chaos/model.test.ts.
  it('a canceled turn on a client whose only transport is blocked still yields every event of the turn', async () => {
    server = await createTestServer({ script: [{ delta: 'partial' }, { hang: true }] });
    proxy = await createFaultProxy({ target: server.url }).listen();
    proxy.refuseWebSocket(true);
    recorded = recordingClient({ baseUrl: proxy.url, transports: ['websocket'] }, { terminalGraceMs: 50 });
    const session = await recorded.client.createSession();
    const started = (server.agent as import('../../src/testing.js').ScriptedAgent).nextCall();
    const turn = await session.prompt('x');
    await started;
    await expect(turn.cancel()).resolves.toEqual({ cancelled: true });
    const events: TurnEvent[] = [];
    for await (const ev of turn) events.push(ev);
    expect((await turn.result).type).toBe('turn.canceled');
    expect(events.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.canceled']);
  });
});

describe('bug 2 (fixed in 7f289f4) — fault proxy: reset() right after endAll() leaked the sockets; close() never resolved', () => {
  // src/testing/proxy-connection.ts `resetSocket()`: `socket.resetAndDestroy()` on a socket whose
  // `end()` (shutdown) is still pending fails in libuv with EINVAL; Node then never emits 'close',
  // the TCPSocketWrap handle stays alive, `connection.closed` never resolves and `proxy.close()` hangs.
  // Fix: in resetSocket, `if (socket.writableEnded) return void socket.destroy();`.
  it('proxy.close() resolves after endAll() then reset() on the same connections', async () => {
    server = await createTestServer();
    proxy = await createFaultProxy({ target: server.url }).listen();
    const socket = connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    socket.on('error', () => {});
    await proxy.nextConnection({ timeoutMs: 5000 });
    proxy.endAll();
    proxy.reset();
    const closed = await Promise.race([proxy.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('hung'), 1500))]);
    socket.destroy();
    expect(closed).toBe('closed');
  });
});

describe('bug 3 (fixed in 3cc3d9a) — server: GET turn / snapshot ran ahead of the published event log (file store)', () => {
  // src/server/core/tether-core.ts: `#append` sets `turn.terminal` (and the status) at once, while the
  // event only becomes visible to streams and polls in `#flushStore` → `publish` after the store write.
  // A client that learns "finished" over HTTP (F5 fallback, `session.turn(id)`, a snapshot) can then
  // ask the streams for events that are not visible yet. Fix: answer GET turn / snapshot from the
  // published state (only report a terminal with `seq <= log.visible`), or await its publication.
  // A store that takes 300 ms to append a terminal (a slow disk) opens the window every time.
  it('a terminal seen by GET turn is already in the event log', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tether-bug3-'));
    const inner = fileStore({ dir });
    const slow: SessionStore = {
      ...inner,
      appendEvents: async (id, events, options) => {
        if (events.some((e) => e.type === 'turn.completed')) await new Promise((r) => setTimeout(r, 300));
        await inner.appendEvents(id, events, options);
      },
    };
    server = await createTestServer({ store: slow, script: [{ delta: 'a' }, { delta: 'b' }] });
    const base = server.url;
    const created = (await (await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { session: { id: string } };
    const sid = created.session.id;
    let ahead = 0;
    for (let i = 0; i < 3; i++) {
      const reply = (await (await fetch(`${base}/v1/sessions/${sid}/turns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `p${i}` }) })).json()) as { turn: { id: string } };
      let terminalSeq: number | undefined;
      while (terminalSeq === undefined) {
        const t = (await (await fetch(`${base}/v1/sessions/${sid}/turns/${reply.turn.id}`)).json()) as { turn: { terminal?: { seq: number } } };
        terminalSeq = t.turn.terminal?.seq;
      }
      const poll = (await (await fetch(`${base}/v1/sessions/${sid}/poll?after=${terminalSeq - 1}&wait=0`)).json()) as { events: Array<{ seq: number }> };
      if (!poll.events.some((e) => e.seq === terminalSeq)) ahead += 1;
    }
    expect(ahead).toBe(0);
  });
});

describe('bug 4 (fixed in cf3c569) — server: a request path starting with "//" answered 500 and logged an internal error', () => {
  // src/server/http/handle-request.ts: `new URL(req.url ?? '/', 'http://localhost')` parses `//x` as a
  // protocol-relative URL (host `x`, or Invalid URL for `//`), which throws → 500 `internal_error`.
  // Found by test/fuzz/server-inputs.test.ts. Fix: `new URL(\`http://localhost${req.url ?? '/'}\`)`
  // (a path, never an authority), or catch the parse error and answer 404 `not_found`.
  it('GET // and GET //v1/sessions answer 4xx with a JSON error body', async () => {
    const errors: unknown[] = [];
    server = await createTestServer({ logger: { error: (_fields, m) => void errors.push(m) } });
    for (const path of ['//', '//v1/sessions']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server!.port, path, method: 'GET', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
    expect(errors).toEqual([]);
  });
});
