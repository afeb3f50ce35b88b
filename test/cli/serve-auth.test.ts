// `agent-tether serve --token`: authentication on, as a real process; and the flags' checks.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseCommandLine } from '../../src/cli/args.js';
import { wsProtocols } from '../../src/protocol/index.js';
import { Child } from '../examples/support.js';
import { bundledCli } from './bundled-cli.js';

const cli = bundledCli();
const SECRET = 'correct-horse-battery-staple';

function opens(url: string, protocols: string[]): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`, protocols);
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
  });
}

describe('agent-tether serve --token', () => {
  it('refuses requests and WebSockets without the secret, serves them with it, and says so at start', async () => {
    await using server = new Child(cli.file, ['serve', '--port', '0', '--token', SECRET]);
    const out = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+) \(.*bearer token required\)/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    expect((await fetch(`${url}/v1/sessions`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { authorization: 'Bearer wrong-but-long-enough' } })).status).toBe(401);
    expect((await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(201);
    expect(await opens(url, [wsProtocols.v1])).toBe(401);
    expect(await opens(url, [wsProtocols.v1, wsProtocols.bearerPrefix + Buffer.from(SECRET).toString('base64url')])).toBe(101);
    server.process.kill('SIGTERM');
    expect((await server.exit(15_000)).code, server.stderr).toBe(0);
  }, 30_000);

  it('without --token it says it runs without authentication', async () => {
    await using server = new Child(cli.file, ['serve', '--port', '0']);
    const out = await server.waitFor(/listening on \S+ \(sessions in memory; no authentication\)/);
    expect(out).toBeTruthy();
    server.process.kill('SIGTERM');
    await server.exit(15_000);
    // The server's own warning, on stderr with the other log lines.
    expect(server.stderr).toMatch(/running without authentication/);
  }, 30_000);
});

describe('serve flags', () => {
  it('reads --token and --allow-origin', () => {
    expect(parseCommandLine(['serve', '--token', SECRET, '--allow-origin', 'https://a.example, http://localhost:5173'])).toMatchObject({
      command: 'serve',
      options: { token: SECRET, allowOrigins: ['https://a.example', 'http://localhost:5173'] },
    });
  });

  it('refuses a short token and an origin that is not one', () => {
    expect(parseCommandLine(['serve', '--token', 'short'])).toEqual({ command: 'usage-error', message: '--token must be at least 16 characters without spaces' });
    expect(parseCommandLine(['serve', '--allow-origin', 'https://a.example/path'])).toMatchObject({ command: 'usage-error' });
  });
});
