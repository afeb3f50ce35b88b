// `agent-tether serve --agent codex|opencode`: the command line, and a real Codex spawned on stdio behind it.
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { createClient } from '../../src/index.js';
import { codexDirs, codexEnv, removeDirs } from '../bridges/fixtures/codex-app-server.js';
import { HELLO, startMockLlm } from '../bridges/fixtures/mock-llm.js';
import { Child } from '../examples/support.js';
import { requireBinaries } from '../support/require-binary.js';
import { CODEX } from '../support/system-binaries.js';
import { bundledCli } from './bundled-cli.js';

describe('serve --agent (command line)', () => {
  it('reads the bridge flags', () => {
    expect(parseCommandLine(['serve', '--agent', 'codex'])).toMatchObject({ command: 'serve', options: { agent: 'codex' } });
    expect(parseCommandLine(['serve', '--agent', 'codex', '--codex-url', 'ws://127.0.0.1:4500'])).toMatchObject({
      options: { agent: 'codex', codexUrl: 'ws://127.0.0.1:4500' },
    });
    expect(parseCommandLine(['serve', '--agent', 'opencode', '--opencode-url', 'http://127.0.0.1:4096'])).toMatchObject({
      options: { agent: 'opencode', opencodeUrl: 'http://127.0.0.1:4096' },
    });
    expect(parseCommandLine(['serve'])).not.toHaveProperty('options.agent');
  });

  it.each([
    [['serve', '--agent', 'claude'], /^--agent must be codex or opencode, got "claude"$/],
    [['serve', '--agent', 'opencode'], /^--agent opencode needs --opencode-url http/],
    [['serve', '--agent', 'opencode', '--opencode-url', 'localhost:4096'], /^--agent opencode needs --opencode-url/],
    [['serve', '--opencode-url', 'http://127.0.0.1:4096'], /^--opencode-url needs --agent opencode$/],
    [['serve', '--codex-url', 'ws://127.0.0.1:1'], /^--codex-url and --codex-command need --agent codex$/],
    [['serve', '--agent', 'codex', '--codex-url', 'http://127.0.0.1:1'], /^--codex-url must be a ws:\/\/ URL/],
    [['serve', '--agent', 'codex', '--codex-url', 'ws://a', '--codex-command', 'codex'], /^give --codex-url or --codex-command, not both$/],
  ])('refuses %j with one line', (argv, message) => {
    const parsed = parseCommandLine(argv);
    expect(parsed.command).toBe('usage-error');
    expect((parsed as { message: string }).message).toMatch(message);
  });
});

const bin = requireBinaries('serve --agent codex (real codex app-server)', { codex: CODEX });

describe.skipIf(!bin)('agent-tether serve --agent codex', () => {
  const cli = bundledCli();

  it('spawns codex app-server on stdio and answers a prompt through it', async () => {
    await using llm = await startMockLlm();
    const dirs = codexDirs(llm.url);
    try {
      await using server = new Child(cli.file, ['serve', '--port', '0', '--agent', 'codex', '--codex-command', bin!.codex], codexEnv(dirs));
      const out = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      expect(out).toContain('Agent: Codex app-server');
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      await using client = createClient({ baseUrl: url });
      const turn = await (await client.createSession()).prompt('say hello');
      expect(await turn.result).toMatchObject({ type: 'turn.completed', output: HELLO });
      server.process.kill('SIGTERM');
      expect((await server.exit(15_000)).code, server.stderr).toBe(0);
    } finally {
      removeDirs(dirs);
    }
  }, 60_000);
});
