import { describe, expect, it } from 'vitest';
import { Child } from '../examples/support.js';
import { bundledCli } from './bundled-cli.js';

// The CLI is bundled from src/cli.ts (as tsup does for dist/cli.js) and run as
// a real process: exit codes, signals and stdout are what is under test.
const cli = bundledCli();

describe('agent-tether demo', () => {
  it('walks through every step, checks each, and exits 0', async () => {
    await using demo = new Child(cli.file, ['demo']);
    const { code } = await demo.exit(40_000);
    const out = demo.stdout;
    expect(out, demo.stderr).not.toMatch(/✗|FAILED/);
    expect(code, `${out}\n${demo.stderr}`).toBe(0);
    // Each step's heading, in order.
    const headings = [...out.matchAll(/^\[(\d)\/5\] (.+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(headings).toEqual([
      '1 A streamed turn',
      "2 Bob cancels Alice's turn",
      '3 The connection is cut mid-turn',
      '4 WebSocket is blocked: the session continues over SSE',
      '5 A clean close',
    ]);
    // What each step showed and checked.
    expect(out).toContain('alice created session');
    expect(out).toContain('shared it with bob (each sends its own bearer token)');
    expect(out).toContain('agent ‹ Hello! I am the demo agent, and this reply reaches you one word at a time.');
    expect(out).toMatch(/✓ it arrived in \d+ deltas, and the streamed text equals the server's turn\.completed\.output/);
    expect(out).toContain('bob   ✕ turn.cancel() → {"cancelled":true}');
    expect(out).toContain('✓ alice saw turn.canceled (canceledBy: bob)');
    expect(out).toContain('✓ bob saw turn.canceled (canceledBy: bob)');
    expect(out).toContain('✓ each of them saw exactly one terminal event');
    expect(out).toContain('alice ✕ turn.cancel() afterwards → {"cancelled":false,"reason":"already_finished"}');
    expect(out).toContain('✓ neither client saw an error');
    expect(out).toContain('✂ proxy: every connection reset after 5 of 30 numbers');
    expect(out).toMatch(/… alice: reconnecting \(attempt \d+/);
    expect(out).toContain('✓ the client noticed the cut and reconnected');
    expect(out).toContain('✓ nothing lost, nothing repeated: the 30 numbers streamed equal turn.completed.output');
    expect(out).toContain('✂ proxy: WebSocket upgrades refused, every connection reset');
    expect(out).toContain('… alice: open over sse');
    expect(out).toContain('✓ client.state.transport is "sse"');
    expect(out).toContain('✓ the same session streamed a whole turn over SSE');
    expect(out).toMatch(/✓ alice's subscription saw every event exactly once, in order: seq 1…\d+/);
    expect(out).toContain('✓ both clients closed (client.state.status is "closed")');
    expect(out).toContain('✓ no sockets left open');
    expect(out.trimEnd().split('\n').at(-1)).toMatch(/^Demo complete: all 5 steps behaved \(\d+\.\d s\)\.$/);
  }, 45_000);

  it('fails with a non-zero exit when a step does not finish in time', async () => {
    await using demo = new Child(cli.file, ['demo', '--timeout', '1000']);
    const { code } = await demo.exit(15_000);
    expect(code).toBe(1);
    expect(demo.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Demo FAILED in step \d: DemoFailure: timed out after 1000 ms/);
  }, 20_000);
});
