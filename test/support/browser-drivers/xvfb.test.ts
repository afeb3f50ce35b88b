import { describe, expect, it } from 'vitest';
import { requireBinary } from '../require-binary.js';
import { XVFB } from '../system-binaries.js';
import { startXvfb } from './xvfb.js';

const xvfb = requireBinary('Xvfb helper', XVFB);

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!xvfb)('startXvfb', () => {
  it('gives two suites two free displays, and stop() leaves no process behind', async () => {
    const [first, second] = await Promise.all([startXvfb(xvfb!), startXvfb(xvfb!)]);
    try {
      expect(first.display).toMatch(/^:\d+$/);
      expect(second.display).toMatch(/^:\d+$/);
      expect(first.display).not.toBe(second.display);
      expect([running(first.pid), running(second.pid)]).toEqual([true, true]);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
    expect([running(first.pid), running(second.pid)]).toEqual([false, false]);
    await first.stop(); // idempotent
  });
});
