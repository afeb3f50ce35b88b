// The OpenCode bridge against the real `opencode serve` (1.18.x) and the project's own mock LLM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TetherServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { opencodeAgent, type OpenCodeAgent } from '../../src/bridges/opencode.js';
import { requireBinaries } from '../support/require-binary.js';
import { OPENCODE } from '../support/system-binaries.js';
import { fastClient, readTurn, startGatewayChild, storedAgentState } from './fixtures/gateway.js';
import { AFTER_TOOL, HELLO, type MockLlm, scriptedText, startMockLlm } from './fixtures/mock-llm.js';
import { existsSync } from 'node:fs';
import { type OpenCodeServer, startOpenCodeServer } from './fixtures/opencode-server.js';

const bin = requireBinaries('OpenCode bridge (real opencode serve)', { opencode: OPENCODE });

// OpenCode starts slowly on a loaded machine (its first prompt bootstraps plugins): generous bounds.
describe.skipIf(!bin)('opencodeAgent with the real opencode serve', { timeout: 120_000 }, () => {
  let llm: MockLlm;
  let opencode: OpenCodeServer;
  // The bridge reaches OpenCode through a fault proxy, so a test can cut its event stream.
  let upstream: FaultProxy;
  let agent: OpenCodeAgent;
  let server: TetherServer;
  let baseUrl: string;

  beforeAll(async () => {
    llm = await startMockLlm();
    opencode = await startOpenCodeServer(bin!.opencode, llm.url);
    upstream = await createFaultProxy({ target: opencode.baseUrl }).listen();
    agent = opencodeAgent({ baseUrl: upstream.url, pollAfterMs: 2000 });
    server = createServer({ agent });
    ({ url: baseUrl } = await server.listen(0, '127.0.0.1'));
    // Warm-up: OpenCode's first prompt loads its plugins and catalog (tens of seconds here).
    await using client = fastClient(baseUrl);
    const turn = await (await client.createSession()).prompt('warm up');
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
  }, 400_000);

  afterAll(async () => {
    await server?.close();
    await agent?.close();
    await upstream?.close();
    await opencode?.close();
    await llm?.close();
    if (opencode) rmSync(opencode.root, { recursive: true, force: true });
  });

  it('streams a turn: deltas, then turn.completed with the whole answer', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('say hello');
    const { text } = await readTurn(turn);
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: HELLO });
    expect(text).toBe(HELLO);
  });

  it('a second client cancels mid-turn: both see one turn.canceled by it, the next turn runs on the same session', async () => {
    await using a = fastClient(baseUrl, 'client-a');
    await using b = fastClient(baseUrl, 'client-b');
    const session = await a.createSession();
    const turn = await session.prompt('slow=400');
    const watched = b.session(session.id).turn(turn.id);
    let cancel: Promise<unknown> | undefined;
    const seenByB = readTurn(watched, (event) => {
      if (event.type === 'turn.delta' && !cancel) cancel = watched.cancel();
    });
    const seenByA = await readTurn(turn);
    expect(await cancel).toEqual({ cancelled: true });
    expect(await turn.result).toMatchObject({ type: 'turn.canceled', canceledBy: 'client-b' });
    expect((await seenByB).events.filter((e) => e.type === 'turn.canceled')).toHaveLength(1);
    expect(seenByA.text.length).toBeLessThan(scriptedText('s', 400).length);
    const next = await session.prompt('say hello');
    expect(await next.result).toMatchObject({ type: 'turn.completed', output: HELLO });
  });

  it('a permission OpenCode asks for is an input request both clients see; the first answer wins and the command runs', async () => {
    await using a = fastClient(baseUrl, 'client-a');
    await using b = fastClient(baseUrl, 'client-b');
    const session = await a.createSession();
    const turn = await session.prompt('tool');
    const watched = b.session(session.id).turn(turn.id);
    let late: Promise<unknown> | undefined;
    const seenByB = readTurn(watched, async (event) => {
      if (event.type !== 'turn.input_requested') return;
      expect(event.request).toMatchObject({ kind: 'approval', options: expect.arrayContaining([expect.objectContaining({ id: 'once' })]) });
      expect(await watched.respond(event.requestId, { option: 'once' })).toEqual({ accepted: true });
      late = turn.respond(event.requestId, { option: 'reject' });
    });
    const seenByA = await readTurn(turn);
    await seenByB;
    expect(await late).toEqual({ accepted: false, reason: 'already_answered' });
    expect(seenByA.events.filter((e) => e.type === 'turn.input_requested')).toHaveLength(1);
    expect(seenByA.events.find((e) => e.type === 'turn.input_answered')).toMatchObject({ answer: { option: 'once' }, answeredBy: 'client-b' });
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(seenByA.text).toContain(AFTER_TOOL);
    expect(existsSync(`${opencode.root}/work/tool-ran.txt`)).toBe(true);
  });

  it('a prompt that fails after prompt_async answered 204 ends with turn.error carrying the model error', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('fail');
    expect(await turn.result).toMatchObject({ type: 'turn.error', error: { message: expect.stringContaining('mock forced 400') } });
    expect(await (await session.prompt('say hello')).result).toMatchObject({ type: 'turn.completed', output: HELLO });
  });

  it('OpenCode retrying a 503 forever is cut at retryTimeoutMs: turn.error, and the session works again', async () => {
    await using bounded = opencodeAgent({ baseUrl: opencode.baseUrl, retryTimeoutMs: 3000, pollAfterMs: 1000 });
    const gateway = createServer({ agent: bounded });
    const { url } = await gateway.listen(0, '127.0.0.1');
    try {
      await using client = fastClient(url);
      const session = await client.createSession();
      const turn = await session.prompt('overloaded');
      expect(await turn.result).toMatchObject({ type: 'turn.error', error: { message: expect.stringContaining('kept retrying') } });
      expect(await (await session.prompt('say hello')).result).toMatchObject({ type: 'turn.completed', output: HELLO });
    } finally {
      await gateway.close();
    }
  });

  it('a cancel after the end answers already_finished', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('say hello');
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(await turn.cancel()).toEqual({ cancelled: false, reason: 'already_finished' });
  });

  it('the event stream from OpenCode is cut mid-turn: the bridge reconnects and the client still gets the exact text', async () => {
    await using client = fastClient(baseUrl);
    const session = await client.createSession();
    const turn = await session.prompt('slow=60');
    const before = upstream.stats.accepted;
    let deltas = 0;
    const { text } = await readTurn(turn, (event) => {
      if (event.type === 'turn.delta' && ++deltas === 5) upstream.reset();
    });
    expect(upstream.stats.accepted).toBeGreaterThan(before);
    expect(await turn.result).toMatchObject({ type: 'turn.completed' });
    expect(text).toBe(scriptedText('s', 60));
  });

  it('our server killed mid-turn: after the restart the turn ended interrupted and the next turn works on the same OpenCode session', async () => {
    const store = mkdtempSync(join(tmpdir(), 'bridge-restart-'));
    try {
      const sessionOf = (_sessionId: string) => storedAgentState(store, 'opencodeSessionId');
      const first = await startGatewayChild(store, 'opencode', opencode.baseUrl);
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
      const ocSession = sessionOf(sessionId);
      expect(ocSession).toMatch(/^ses_/);
      const second = await startGatewayChild(store, 'opencode', opencode.baseUrl);
      try {
        await using client = fastClient(second.url);
        const session = client.session(sessionId);
        expect(await session.turn(turnId).result).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
        const next = await session.prompt('say hello');
        expect(await next.result).toMatchObject({ type: 'turn.completed', output: HELLO });
        expect(sessionOf(sessionId)).toBe(ocSession);
      } finally {
        await second.kill();
      }
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });
});
