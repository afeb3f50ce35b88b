import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode, Child } from './support.js';

describe('examples/shared-session', () => {
  let script: Awaited<ReturnType<typeof bundleForNode>>;
  beforeAll(async () => {
    script = await bundleForNode('examples/shared-session/shared-session.mjs');
  });
  afterAll(async () => {
    await script?.remove();
  });

  it('two clients watch one session, each cancels the other, and both saw the same events', async () => {
    await using run = new Child(script.file);
    const { code } = await run.exit(25_000);
    const out = run.stdout;
    expect(code, `${out}\n${run.stderr}`).toBe(0);
    expect(out).not.toContain('✗');
    expect(out).toContain(`✓ bob's cancel → {"cancelled":true}`);
    expect(out).toContain("✓ alice's turn.result: turn.canceled by bob");
    expect(out).toContain(`✓ alice's cancel → {"cancelled":true}`);
    expect(out).toContain("✓ bob's turn.result: turn.canceled by alice");
    expect(out).toContain(`✓ bob's late cancel → {"cancelled":false,"reason":"already_finished"}`);
    expect(out).toContain('alice › Tell me a short story → "word1 word2 word3 word4 word5 word6"');
    expect(out).toMatch(/✓ alice and bob saw the same \d+ events, in the same order/);
    expect(out).toContain('✓ terminal events, one per turn: turn.canceled by bob, turn.canceled by alice, turn.completed');
    expect(out).toContain('✓ no errors on either client');
    expect(out.trimEnd().split('\n').at(-1)).toBe('shared session: OK');
  }, 30_000);
});
