// The Codex bridge against the real `codex app-server` (0.171.x) and the project's own mock LLM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TetherServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { codexAgent, type CodexAgent } from '../../src/bridges/codex.js';
import { requireBinaries } from '../support/require-binary.js';
import { CODEX } from '../support/system-binaries.js';
import { codexDirs, type CodexDirs, type CodexServer, removeDirs, startCodexServer } from './fixtures/codex-app-server.js';
import { fastClient, readTurn, startGatewayChild, storedAgentState } from './fixtures/gateway.js';
import { AFTER_TOOL, HELLO, type MockLlm, scriptedText, startMockLlm } from './fixtures/mock-llm.js';
import { existsSync } from 'node:fs';

const bin = requireBinaries('Codex bridge (real codex app-server)', { codex: CODEX });

describe.skipIf(!bin)('codexAgent with the real codex app-server', { timeout: 90_000 }, () => {
  let llm: MockLlm;
  let dirs: CodexDirs;
  let codex: CodexServer;
  // The bridge reaches Codex through a fault proxy, so a test can cut that connection.
  let upstream: FaultProxy;
  let agent: CodexAgent;
  let server: TetherServer;
  let baseUrl: string;

  beforeAll(async () => {
    llm = await startMockLlm();
    dirs = codexDirs(llm.url);
    codex = await startCodexServer(bin!.codex, dirs);
    upstream = await createFaultProxy({ target: codex.url }).listen();
    agent = codexAgent({ url: upstream.url.replace(/^http/, 'ws'), reconnectTimeoutMs: 20_000 });
    server = createServer({ agent });
    ({ url: baseUrl } = await server.listen(0, '127.0.0.1'));
  });

  afterAll(async () => {
    await server?.close();
    await agent?.close();
    await upstream?.close();
    await codex?.close();
    await llm?.close();
    if (dirs) removeDirs(dirs);
  });

  it('streams a turn: deltas, items, then turn.completed with the whole answer', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('say hello');
    const { text, events } = await readTurn(turn);
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: HELLO });
    expect(text).toBe(HELLO);
    expect(events.some((e) => e.type === 'turn.item' && (e.item as { event?: string }).event === 'item/completed')).toBe(true);
  });

  it('a second client cancels mid-turn: both see one turn.canceled by it, Codex stops, the next turn runs on the same thread', async () => {
    await using a = fastClient(baseUrl, 'client-a');
    await using b = fastClient(baseUrl, 'client-b');
    const session = await a.createSession();
    const turn = await session.prompt('slow=400'); // 20 s if nobody stops it
    const watched = b.session(session.id).turn(turn.id);
    let cancel: Promise<unknown> | undefined;
    const seenByB = readTurn(watched, (event) => {
      if (event.type === 'turn.delta' && !cancel) cancel = watched.cancel();
    });
    const seenByA = await readTurn(turn);
    expect(await cancel).toEqual({ cancelled: true });
    expect(await turn.result).toMatchObject({ type: 'turn.canceled', canceledBy: 'client-b' });
    expect(await watched.result).toMatchObject({ type: 'turn.canceled', canceledBy: 'client-b' });
    expect((await seenByB).events.filter((e) => e.type === 'turn.canceled')).toHaveLength(1);
    expect(seenByA.text.length).toBeLessThan(scriptedText('s', 400).length);
    // Had Codex not interrupted the turn, this prompt would be steered into it and never answer HELLO alone.
    const next = await session.prompt('say hello');
    expect(await next.result).toMatchObject({ type: 'turn.completed', output: HELLO });
  });

  it('a turn Codex fails (the model answered 400) ends with turn.error carrying its message', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('fail');
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { message: expect.stringContaining('mock forced 400') } });
    expect(await (await session.prompt('say hello')).result).toMatchObject({ type: 'turn.completed', output: HELLO });
  });

  it('a cancel after the end answers already_finished', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('say hello');
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(await turn.cancel()).toEqual({ cancelled: false, reason: 'already_finished' });
  });

  it('the connection to Codex is cut mid-turn: the bridge reconnects, resumes the thread, and the client still gets the exact text', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('slow=60'); // 3 s
    const before = upstream.stats.accepted;
    let deltas = 0;
    const { text } = await readTurn(turn, (event) => {
      if (event.type === 'turn.delta' && ++deltas === 5) upstream.reset();
    });
    expect(upstream.stats.accepted).toBeGreaterThan(before); // the bridge did reconnect
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(text).toBe(scriptedText('s', 60));
  });

  it('an approval Codex asks for is an input request both clients see; the first answer wins and the command runs', async () => {
    // Threads of this bridge ask before running commands (`untrusted`), in a sandbox that lets them write.
    await using asking = codexAgent({ url: codex.url, approvalPolicy: 'untrusted', sandbox: 'workspace-write', cwd: dirs.work });
    const gateway = createServer({ agent: asking });
    const { url } = await gateway.listen(0, '127.0.0.1');
    try {
      await using a = fastClient(url, 'client-a');
      await using b = fastClient(url, 'client-b');
      const session = await a.createSession();
      const turn = await session.prompt('tool');
      const watched = b.session(session.id).turn(turn.id);
      let late: Promise<unknown> | undefined;
      const seenByB = readTurn(watched, async (event) => {
        if (event.type !== 'turn.input_requested') return;
        expect(event.request).toMatchObject({ kind: 'approval', options: expect.arrayContaining([expect.objectContaining({ id: 'accept' })]) });
        expect(await watched.respond(event.requestId, { option: 'accept' })).toEqual({ accepted: true });
        late = turn.respond(event.requestId, { option: 'decline' });
      });
      const seenByA = await readTurn(turn);
      await seenByB;
      expect(await late).toEqual({ accepted: false, reason: 'already_answered' });
      expect(seenByA.events.filter((e) => e.type === 'turn.input_requested')).toHaveLength(1);
      expect(seenByA.events.find((e) => e.type === 'turn.input_answered')).toMatchObject({ answer: { option: 'accept' }, answeredBy: 'client-b' });
      expect(await turn.result).toMatchObject({ type: 'turn.completed' });
      expect(seenByA.text).toContain(AFTER_TOOL);
      expect(existsSync(`${dirs.work}/tool-ran.txt`)).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it('a reader stalled for 10 s during a 100,000-delta turn still gets every delta', async () => {
    await using proxy = await createFaultProxy({ target: baseUrl }).listen();
    await using client = fastClient(proxy.url);
    const session = await client.createSession();
    const turn = await session.prompt('deltas=100000');
    let stalled = false;
    const { text } = await readTurn(turn, async (event) => {
      if (event.type === 'turn.delta' && !stalled) {
        stalled = true;
        proxy.stall(true);
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        proxy.stall(false);
      }
    });
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(text.length).toBe(scriptedText('d', 100_000).length);
    expect(text).toBe(scriptedText('d', 100_000));
  }, 300_000); // 100,000 deltas through Codex, our server and a client: minutes on a loaded 2-core machine
});

describe.skipIf(!bin)('codexAgent behind a server that crashes', { timeout: 90_000 }, () => {
  it('our server killed mid-turn: after the restart the turn ended interrupted and the next turn works on the same thread', async () => {
    await using llm = await startMockLlm();
    const dirs = codexDirs(llm.url);
    const store = mkdtempSync(join(tmpdir(), 'bridge-restart-'));
    await using codex = await startCodexServer(bin!.codex, dirs);
    try {
      const first = await startGatewayChild(store, 'codex', codex.url);
      const threadOf = (_sessionId: string) => storedAgentState(store, 'codexThreadId');
      let sessionId: string;
      let turnId: string;
      {
        await using client = fastClient(first.url);
        const session = await client.createSession();
        sessionId = session.id;
        const turn = await session.prompt('slow=400');
        turnId = turn.id;
        for await (const event of turn) if (event.type === 'turn.delta') break;
        await first.kill();
      }
      const thread = threadOf(sessionId);
      expect(thread).toBeTypeOf('string');
      const second = await startGatewayChild(store, 'codex', codex.url);
      try {
        await using client = fastClient(second.url);
        const session = client.session(sessionId);
        expect(await session.turn(turnId).result).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
        const next = await session.prompt('say hello');
        expect(await next.result).toMatchObject({ type: 'turn.completed', output: HELLO });
        expect(threadOf(sessionId)).toBe(thread);
      } finally {
        await second.kill();
      }
    } finally {
      rmSync(store, { recursive: true, force: true });
      removeDirs(dirs);
    }
  });
});
