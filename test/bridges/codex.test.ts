// The Codex bridge against the real `codex app-server` (0.171.x) and the project's mock LLM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type TurnEvent } from '../../src/index.js';
import { createServer, type TetherServer } from '../../src/server.js';
import { codexAgent, type CodexAgent } from '../../src/bridges/codex.js';
import { requireBinaries } from '../support/require-binary.js';
import { CODEX } from '../support/system-binaries.js';
import { codexDirs, type CodexDirs, type CodexServer, removeDirs, startCodexServer } from './fixtures/codex-app-server.js';
import { HELLO, type MockLlm, startMockLlm } from './fixtures/mock-llm.js';

const bin = requireBinaries('Codex bridge (real codex app-server)', { codex: CODEX });

describe.skipIf(!bin)('codexAgent over WebSocket', { timeout: 60_000 }, () => {
  let llm: MockLlm;
  let dirs: CodexDirs;
  let codex: CodexServer;
  let agent: CodexAgent;
  let server: TetherServer;
  let baseUrl: string;

  beforeAll(async () => {
    llm = await startMockLlm();
    dirs = codexDirs(llm.url);
    codex = await startCodexServer(bin!.codex, dirs);
    agent = codexAgent({ url: codex.url });
    server = createServer({ agent });
    ({ url: baseUrl } = await server.listen(0, '127.0.0.1'));
  });

  afterAll(async () => {
    await server?.close();
    await agent?.close();
    await codex?.close();
    await llm?.close();
    if (dirs) removeDirs(dirs);
  });

  it('streams a turn: deltas, items, then turn.completed with the whole answer', async () => {
    await using client = createClient({ baseUrl });
    const session = await client.createSession();
    const turn = await session.prompt('say hello');
    const events: TurnEvent[] = [];
    for await (const event of turn) events.push(event);
    const end = await turn.result;
    expect(end).toMatchObject({ type: 'turn.completed', output: HELLO });
    const text = events.flatMap((e) => (e.type === 'turn.delta' ? [e.text] : [])).join('');
    expect(text).toBe(HELLO);
    expect(events.some((e) => e.type === 'turn.item')).toBe(true);
  });
});
