// The Codex bridge against the real `codex app-server` (0.171.x) and the project's own mock LLM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TetherServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { codexAgent, type CodexAgent } from '../../src/bridges/codex.js';
import { requireBinaries } from '../support/require-binary.js';
import { CODEX } from '../support/system-binaries.js';
import { codexDirs, type CodexDirs, type CodexServer, removeDirs, startCodexServer } from './fixtures/codex-app-server.js';
import { fastClient, readTurn } from './fixtures/gateway.js';
import { HELLO, type MockLlm, scriptedText, startMockLlm } from './fixtures/mock-llm.js';
import { approvalByOneOfTwo, cancelAfterEnd, cancelBySecondClient, failedTurn, serverRestartMidTurn, upstreamCutMidTurn } from './fixtures/scenarios.js';

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
    server = createServer({ agent, logger: {} }); // quiet: the error tests log the upstream's text on purpose
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

  it('a second client cancels mid-turn: both see one turn.canceled by it, Codex stops, the next turn runs on the same thread', () =>
    cancelBySecondClient(baseUrl));

  it('a turn Codex fails (the model answered 400) ends with turn.error upstream_failed', () => failedTurn(baseUrl, 'fail', 'upstream_failed'));

  it('a cancel after the end answers already_finished', () => cancelAfterEnd(baseUrl));

  it('the connection to Codex is cut mid-turn: the bridge reconnects, resumes the thread, and the client still gets the exact text', () =>
    upstreamCutMidTurn(baseUrl, upstream));

  it('an approval Codex asks for is an input request both clients see; the first answer wins and the command runs', async () => {
    // Threads of this bridge ask before running commands (`untrusted`), and run them without Codex's
    // own sandbox (bubblewrap), which is not this test's subject: in full runs (other suites, browsers
    // with their own sandboxes, beside this one) the approved command sometimes left no file although
    // Codex accepted the answer and the turn completed (3 of ~15 full Node 22 runs; never alone).
    await using asking = codexAgent({ url: codex.url, approvalPolicy: 'untrusted', sandbox: 'danger-full-access', cwd: dirs.work });
    const gateway = createServer({ agent: asking, logger: {} });
    const { url } = await gateway.listen(0, '127.0.0.1');
    try {
      await approvalByOneOfTwo(url, { accept: 'accept', decline: 'decline', ranIn: dirs.work, toolResults: llm.toolResults });
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
    try {
      await using codex = await startCodexServer(bin!.codex, dirs);
      await serverRestartMidTurn('codex', codex.url, 'codexThreadId');
    } finally {
      removeDirs(dirs);
    }
  });
});
