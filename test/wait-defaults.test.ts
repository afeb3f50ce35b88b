import { expect, it, vi } from 'vitest';

// What test/wait-defaults.ts (a setup file) does to every test file; not imported
// here, so this fails if the config stops loading it.
it("vi.waitFor waits longer than vitest's own 1 s by default", async () => {
  // A condition that holds only after 1.5 s of real time, as a first reply on a busy machine can.
  const start = Date.now();
  await vi.waitFor(() => {
    if (Date.now() - start < 1_500) throw new Error('not yet');
  });
  expect(Date.now() - start).toBeGreaterThanOrEqual(1_500);
});

it('keeps a deadline the test passes itself', async () => {
  const start = Date.now();
  await expect(
    vi.waitFor(() => {
      throw new Error('never');
    }, { timeout: 100 }),
  ).rejects.toThrow('never');
  expect(Date.now() - start).toBeLessThan(5_000);
});
