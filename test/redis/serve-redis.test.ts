import { describe, expect, it } from 'vitest';
import { Child } from '../examples/support.js';
import { bundledCli } from '../cli/bundled-cli.js';
import { parseCommandLine } from '../../src/cli/args.js';
import { requireRedisServer, startRedisServer } from '../support/redis-server.js';

const redisBin = requireRedisServer('agent-tether serve --redis');
const cli = bundledCli();

describe('agent-tether serve --redis', () => {
  it('parses --redis, refuses a non-Redis URL and --store together with it', () => {
    expect(parseCommandLine(['serve', '--redis', 'redis://127.0.0.1:6379'])).toMatchObject({
      command: 'serve',
      options: { redis: 'redis://127.0.0.1:6379' },
    });
    expect(parseCommandLine(['serve', '--redis', 'http://x'])).toEqual({
      command: 'usage-error',
      message: '--redis must be a redis:// or rediss:// URL, got "http://x"',
    });
    expect(parseCommandLine(['serve', '--redis', 'redis://x', '--store', 'd'])).toMatchObject({ command: 'usage-error' });
  });

  it.skipIf(!redisBin)('keeps sessions in Redis: a second process with the same URL serves them', async () => {
    await using redis = await startRedisServer({ binary: redisBin! });
    let sessionId: string;
    {
      await using first = new Child(cli.file, ['serve', '--port', '0', '--redis', redis.url]);
      const out = await first.waitFor(/listening on (http:\/\/\S+) \(sessions in Redis at redis:/);
      const url = /listening on (http:\/\/\S+) /.exec(out)![1];
      const created = await fetch(`${url}/v1/sessions`, { method: 'POST' });
      expect(created.status).toBe(201);
      sessionId = ((await created.json()) as { session: { id: string } }).session.id;
      first.process.kill('SIGTERM');
      expect((await first.exit(15_000)).code, first.stderr).toBe(0);
    }
    {
      await using second = new Child(cli.file, ['serve', '--port', '0', '--redis', redis.url]);
      const out = await second.waitFor(/listening on (http:\/\/\S+) /);
      const url = /listening on (http:\/\/\S+) /.exec(out)![1];
      const snapshot = await fetch(`${url}/v1/sessions/${sessionId}`);
      expect(snapshot.status).toBe(200);
      second.process.kill('SIGTERM');
      expect((await second.exit(15_000)).code, second.stderr).toBe(0);
    }
  }, 40_000);
});
