// The OpenCode bridge against the real `opencode serve` (1.18.x) and the project's own mock LLM.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TetherServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { opencodeAgent, type OpenCodeAgent } from '../../src/bridges/opencode.js';
import { requireBinaries } from '../support/require-binary.js';
import { OPENCODE } from '../support/system-binaries.js';
import { fastClient, readTurn } from './fixtures/gateway.js';
import { HELLO, type MockLlm, startMockLlm } from './fixtures/mock-llm.js';
import { approvalByOneOfTwo, cancelAfterEnd, cancelBySecondClient, failedTurn, serverRestartMidTurn, upstreamCutMidTurn } from './fixtures/scenarios.js';
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
    server = createServer({ agent, logger: {} }); // quiet: the error tests log the upstream's text on purpose
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

  it('a second client cancels mid-turn: both see one turn.canceled by it, the next turn runs on the same session', () => cancelBySecondClient(baseUrl));

  it('a permission OpenCode asks for is an input request both clients see; the first answer wins and the command runs', () =>
    approvalByOneOfTwo(baseUrl, { accept: 'once', decline: 'reject', ranIn: join(opencode.root, 'work'), toolResults: llm.toolResults }));

  it('a prompt that fails after prompt_async answered 204 ends with turn.error upstream_failed', () =>
    failedTurn(baseUrl, 'fail', 'upstream_failed'));

  it('OpenCode retrying a 503 forever is cut at retryTimeoutMs: turn.error, and the session works again', async () => {
    await using bounded = opencodeAgent({ baseUrl: opencode.baseUrl, retryTimeoutMs: 3000, pollAfterMs: 1000 });
    const gateway = createServer({ agent: bounded, logger: {} });
    const { url } = await gateway.listen(0, '127.0.0.1');
    try {
      await failedTurn(url, 'overloaded', 'upstream_retry_timeout');
    } finally {
      await gateway.close();
    }
  });

  it('a cancel after the end answers already_finished', () => cancelAfterEnd(baseUrl));

  it('the event stream from OpenCode is cut mid-turn: the bridge reconnects and the client still gets the exact text', () =>
    upstreamCutMidTurn(baseUrl, upstream));

  it('our server killed mid-turn: after the restart the turn ended interrupted and the next turn works on the same OpenCode session', () =>
    serverRestartMidTurn('opencode', opencode.baseUrl, 'opencodeSessionId'));
});
