import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child, root } from '../examples/support.js';
import { bundledCli } from './bundled-cli.js';

// Every way the command line can be wrong ends the same way: one line on
// stderr naming what was wrong, nothing on stdout, exit code 2.
const cli = bundledCli();
let dir = '';
let file = '';
let busy: Server;
let busyPort = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-tether-cli-errors-'));
  file = join(dir, 'hostname');
  await writeFile(file, 'not a directory\n');
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => busy?.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]) {
  await using child = new Child(cli.file, args);
  const { code } = await child.exit(15_000);
  return { code, stdout: child.stdout, stderr: child.stderr };
}

describe('agent-tether command-line errors', () => {
  it.each([
    [['frobnicate'], 'unknown command "frobnicate" (expected one of: serve, demo)'],
    [['serve', '--prot', '80'], 'unknown option --prot'],
    [['serve', '--port'], '--port needs a value: --port <port>'],
    [['serve', '-p'], '-p needs a value: -p <port>'],
    [['serve', '--port', '-1'], '--port must be an integer from 0 to 65535, got "-1"'],
    [['serve', '--log-level', 'loud'], '--log-level must be one of debug, info, warn, error, got "loud"'],
    [['demo', '--timeout', '-5'], '--timeout must be a whole number of milliseconds, at least 1000, got "-5"'],
    [['demo', 'now'], 'unexpected argument "now"'],
  ])('%j → one line of its own, exit 2', async (args, message) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`agent-tether: ${message} (see agent-tether --help)\n`);
  });

  it('--store naming a file → one line, exit 2 (not a mkdir EEXIST)', async () => {
    const { code, stdout, stderr } = await run(['serve', '--port', '0', '--store', file]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`agent-tether: --store ${file} is a file; it must name a directory (created if missing)\n`);
  });

  it('--store below a file → one line, exit 2', async () => {
    const { code, stderr } = await run(['serve', '--port', '0', '--store', join(file, 'sessions')]);
    expect(code).toBe(2);
    expect(stderr).toBe(`agent-tether: --store ${join(file, 'sessions')} cannot be used: a part of the path is a file\n`);
  });

  it('a port in use → one line, exit 2', async () => {
    const { code, stderr } = await run(['serve', '--port', String(busyPort)]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `agent-tether: port ${busyPort} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one)\n`,
    );
  });

  it('a --host that is not an address of this machine → one line, exit 2', async () => {
    // 192.0.2.1 is TEST-NET-1: never a local address, and no DNS lookup involved.
    const { code, stderr } = await run(['serve', '--port', '0', '--host', '192.0.2.1']);
    expect(code).toBe(2);
    expect(stderr).toBe('agent-tether: --host 192.0.2.1 is not an address of this machine\n');
  });
});

describe('agent-tether --version and --help', () => {
  it('--version, -v and version print the package version and exit 0', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v', 'version']) {
      const { code, stdout, stderr } = await run([flag]);
      expect(code, stderr).toBe(0);
      expect(stdout).toBe(`${version}\n`);
    }
  });

  it('--help prints usage and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('agent-tether serve [--port 4317] [--host 127.0.0.1] [--store <dir>]');
    expect(stdout).toContain('[--log-level debug|info|warn|error]');
    expect(stdout).toContain('agent-tether --version');
    expect(stdout).toContain('agent-tether demo');
  });
});
