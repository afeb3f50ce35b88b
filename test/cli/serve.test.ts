import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child } from '../examples/support.js';
import { bundledCli } from './bundled-cli.js';

// `agent-tether serve` as a real process: exit codes, signals and output are what is under test.
const cli = bundledCli();

describe('agent-tether serve', () => {
  it('starts, answers POST /v1/sessions, and exits 0 on SIGTERM', async () => {
    await using server = new Child(cli.file, ['serve', '--port', '0']);
    const out = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];

    const created = await fetch(`${url}/v1/sessions`, { method: 'POST' });
    expect(created.status).toBe(201);
    const { session } = (await created.json()) as { session: { id: string } };
    expect(session.id).toEqual(expect.any(String));

    // The demo agent answers.
    const prompted = await fetch(`${url}/v1/sessions/${session.id}/turns`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'hi' }),
    });
    expect(prompted.status).toBe(201);

    server.process.kill('SIGTERM');
    const { code } = await server.exit(15_000);
    expect(code, server.stderr).toBe(0);
    expect(server.stdout).toContain('SIGTERM: closing the server');
    expect(server.stdout.trimEnd().split('\n').at(-1)).toBe('server closed');
    await expect(fetch(`${url}/v1/sessions`, { method: 'POST' })).rejects.toThrow();
  }, 30_000);

  it('keeps sessions in --store across restarts, and closes on SIGINT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-tether-cli-store-'));
    try {
      let sessionId: string;
      {
        await using first = new Child(cli.file, ['serve', '--port', '0', '--store', dir]);
        const out = await first.waitFor(/listening on (http:\/\/\S+) \(sessions in /);
        const url = /listening on (http:\/\/\S+) /.exec(out)![1];
        const created = await fetch(`${url}/v1/sessions`, { method: 'POST' });
        sessionId = ((await created.json()) as { session: { id: string } }).session.id;
        first.process.kill('SIGINT');
        expect((await first.exit(15_000)).code, first.stderr).toBe(0);
      }
      expect((await readdir(dir)).length).toBeGreaterThan(0);
      {
        await using second = new Child(cli.file, ['serve', '--port', '0', '--store', dir]);
        const out = await second.waitFor(/listening on (http:\/\/\S+) /);
        const url = /listening on (http:\/\/\S+) /.exec(out)![1];
        const snapshot = await fetch(`${url}/v1/sessions/${sessionId}`);
        expect(snapshot.status).toBe(200);
        expect(((await snapshot.json()) as { session: { id: string } }).session.id).toBe(sessionId);
        second.process.kill('SIGTERM');
        expect((await second.exit(15_000)).code, second.stderr).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('mentions the slow prompt, so a cancel can be tried by hand', async () => {
    await using server = new Child(cli.file, ['serve', '--port', '0']);
    const out = await server.waitFor('Press Ctrl-C to stop.');
    expect(out).toContain('Try a prompt starting with "slow" for a reply that streams for about 10 s');
  });

  it('logs one line per request at the default level (info), none at --log-level warn', async () => {
    const requestLines = async (level: string[]) => {
      await using server = new Child(cli.file, ['serve', '--port', '0', ...level]);
      const out = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      expect((await fetch(`${url}/v1/sessions`, { method: 'POST' })).status).toBe(201);
      server.process.kill('SIGTERM');
      expect((await server.exit(15_000)).code, server.stderr).toBe(0);
      return (server.stdout + server.stderr).split('\n').filter((line) => line.includes('/v1/sessions'));
    };
    const lines = await requestLines([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/POST/);
    expect(lines[0]).toMatch(/201/);
    expect(await requestLines(['--log-level', 'warn'])).toEqual([]);
  }, 30_000);

  it('--log-level reaches the server logger: debug shows a malformed request, info (the default) does not', async () => {
    const garbage = async (level: string[]) => {
      await using server = new Child(cli.file, ['serve', '--port', '0', ...level]);
      const out = await server.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      // Not HTTP at all: the server answers 400 and logs a client error at debug.
      const reply = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP\r\n\r\n'));
        socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        socket.on('close', () => resolve(text)).on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 400/);
      server.process.kill('SIGTERM');
      expect((await server.exit(15_000)).code, server.stderr).toBe(0);
      return server.stdout + server.stderr;
    };
    expect(await garbage(['--log-level', 'debug'])).toContain('agent-tether: client error');
    expect(await garbage([])).not.toContain('client error');
  }, 30_000);
});
