import { describe, expect, it } from 'vitest';
import { findRedisServer } from '../../src/cli/demo-cluster.js';
import { Child } from '../examples/support.js';
import { requireRedisServer } from '../support/redis-server.js';
import { bundledCli } from './bundled-cli.js';

// The CLI runs as a real process: it starts redis-server and two `serve --redis` children of itself.
const cli = bundledCli();
const redisBinary = requireRedisServer('agent-tether demo --cluster');

describe('agent-tether demo --cluster', () => {
  it.skipIf(!redisBinary)("kills the node a watcher is attached to mid-turn; the turn finishes through the other node, nothing lost", async () => {
    await using demo = new Child(cli.file, ['demo', '--cluster'], { REDIS_SERVER_PATH: redisBinary });
    const { code } = await demo.exit(90_000);
    const out = demo.stdout;
    expect(code, `${out}\n${demo.stderr}`).toBe(0);
    const headings = [...out.matchAll(/^\[(\d)\/4\] (.+)$/gm)].map((m) => m[2]);
    expect(headings).toEqual([
      'Two server processes on one Redis, a load balancer in front',
      'Bob prompts through node B; alice watches through node A',
      'Node A, the one alice is attached to, is killed',
      'The turn survived on node B',
    ]);
    expect(out).toContain("✓ alice's WebSocket landed on node A");
    expect(out).toMatch(/✂ node A \(pid \d+\) killed with SIGKILL after \d+ of 40 numbers/);
    expect(out).toMatch(/… alice: open again over websocket/);
    expect(out).toContain('✓ the turn ended turn.completed');
    expect(out).toContain('✓ alice saw all 40 numbers, none lost or repeated');
    expect(out).toMatch(/✓ alice's subscription saw every event once, in order: seq 1…\d+/);
    expect(out.trimEnd().split('\n').at(-1)).toMatch(/^Demo complete: the turn survived/);
  }, 100_000);

  it('says what is missing when there is no redis-server, and exits 1', async () => {
    expect(findRedisServer({ PATH: '/nonexistent', REDIS_SERVER_PATH: '/nonexistent/redis-server' })).toBeUndefined();
    await using demo = new Child(cli.file, ['demo', '--cluster'], { REDIS_SERVER_PATH: '/nonexistent/redis-server' });
    const { code } = await demo.exit(15_000);
    expect(code).toBe(1);
    expect(demo.stdout).toMatch(/needs redis-server.*apt-get install redis-server.*REDIS_SERVER_PATH/);
  }, 20_000);
});
