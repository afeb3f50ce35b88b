import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BinaryNeed, findBinary, isCi, isExecutableFile, type RequireBinaryIo, requireBinaries, requireBinary } from './require-binary.js';

const BROWSER: BinaryNeed = { name: 'Browser', paths: ['/opt/a/browser', '/opt/b/browser'], envVar: 'BROWSER_PATH', debianPackage: 'browser-pkg' };
const DISPLAY: BinaryNeed = { name: 'Display', paths: ['/opt/display'], envVar: 'DISPLAY_PATH', debianPackage: 'display-pkg' };

/** An io over a fixed set of executables, recording what it warns. */
function io(executables: string[], env: Record<string, string> = {}): RequireBinaryIo & { lines: string[] } {
  const lines: string[] = [];
  return { env, isExecutable: (path) => executables.includes(path), warn: (line) => lines.push(line), lines };
}

describe('requireBinary', () => {
  it('returns the first of the paths that exists, silently', () => {
    const found = io(['/opt/b/browser']);
    expect(requireBinary('suite', BROWSER, found)).toBe('/opt/b/browser');
    expect(requireBinary('suite', BROWSER, io(['/opt/a/browser', '/opt/b/browser']))).toBe('/opt/a/browser');
    expect(found.lines).toEqual([]);
  });

  it('uses only the environment variable when it is set, even if a default path exists', () => {
    expect(requireBinary('suite', BROWSER, io(['/opt/a/browser', '/custom'], { BROWSER_PATH: '/custom' }))).toBe('/custom');
    const missing = io(['/opt/a/browser'], { BROWSER_PATH: '/nowhere/browser' });
    expect(requireBinary('e2e (Browser)', BROWSER, missing)).toBeUndefined();
    expect(missing.lines).toEqual([
      '⚠ SKIPPED e2e (Browser): Browser not found at /nowhere/browser (from BROWSER_PATH): ' +
        'apt-get install browser-pkg, or set BROWSER_PATH to the binary (CI=true makes this a failure)',
    ]);
  });

  it('outside CI, skips with one line naming the suite, the Debian package and the variable', () => {
    const missing = io([]);
    expect(requireBinary('e2e (Browser)', BROWSER, missing)).toBeUndefined();
    expect(missing.lines).toHaveLength(1);
    expect(missing.lines[0]).toBe(
      '⚠ SKIPPED e2e (Browser): Browser not found at /opt/a/browser or /opt/b/browser: ' +
        'apt-get install browser-pkg, or set BROWSER_PATH to the binary (CI=true makes this a failure)',
    );
  });

  it('in CI, throws that sentence instead of skipping', () => {
    for (const CI of ['true', '1', 'TRUE']) {
      const ci = io([], { CI });
      expect(() => requireBinary('e2e (Browser)', BROWSER, ci)).toThrow(
        'e2e (Browser) cannot run in CI: Browser not found at /opt/a/browser or /opt/b/browser: apt-get install browser-pkg, or set BROWSER_PATH to the binary',
      );
      expect(ci.lines).toEqual([]);
    }
    expect(requireBinary('e2e', BROWSER, io([], { CI: 'false' }))).toBeUndefined();
  });
});

describe('a binary installed by a project script', () => {
  const PEER: BinaryNeed = { name: 'peer', paths: ['/repo/.peers/peer'], envVar: 'PEER_PATH', debianPackage: 'peer', install: 'scripts/install-peers.sh' };

  it('says to run the script instead of apt-get, alone or next to a Debian package', () => {
    const alone = io([]);
    expect(requireBinary('bridge (peer)', PEER, alone)).toBeUndefined();
    expect(alone.lines).toEqual([
      '⚠ SKIPPED bridge (peer): peer not found at /repo/.peers/peer: run scripts/install-peers.sh, or set PEER_PATH to the binary (CI=true makes this a failure)',
    ]);
    const both = io([]);
    expect(requireBinaries('mixed', { peer: PEER, display: DISPLAY }, both)).toBeUndefined();
    expect(both.lines[0]).toContain(': apt-get install display-pkg and run scripts/install-peers.sh, or set PEER_PATH / DISPLAY_PATH');
  });
});

describe('requireBinaries', () => {
  it('returns every path by key when all exist', () => {
    expect(requireBinaries('suite', { browser: BROWSER, display: DISPLAY }, io(['/opt/a/browser', '/opt/display']))).toEqual({
      browser: '/opt/a/browser',
      display: '/opt/display',
    });
  });

  it('says everything missing in one line, each package once', () => {
    const twice = { ...DISPLAY, name: 'Helper', paths: ['/opt/helper'], envVar: 'HELPER_PATH', debianPackage: 'browser-pkg' };
    const missing = io(['/opt/display']);
    expect(requireBinaries('e2e', { browser: BROWSER, display: DISPLAY, helper: twice }, missing)).toBeUndefined();
    expect(missing.lines).toEqual([
      '⚠ SKIPPED e2e: Browser not found at /opt/a/browser or /opt/b/browser; Helper not found at /opt/helper: ' +
        'apt-get install browser-pkg, or set BROWSER_PATH / HELPER_PATH to the binary (CI=true makes this a failure)',
    ]);
  });
});

describe('findBinary on the real file system', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts an executable file and refuses a non-executable one or a missing one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'require-binary-'));
    const run = join(dir, 'run');
    const plain = join(dir, 'plain');
    await writeFile(run, '#!/bin/sh\n');
    await chmod(run, 0o755);
    await writeFile(plain, 'not a program');
    await chmod(plain, 0o644);
    expect([run, plain, join(dir, 'missing'), dir].map(isExecutableFile)).toEqual([true, false, false, false]);
    const need = { ...BROWSER, paths: [join(dir, 'missing'), plain, dir, run] };
    expect(findBinary(need, { env: {}, isExecutable: isExecutableFile })).toEqual({ path: run });
  });
});

describe('isCi', () => {
  it('is true for CI=true or 1, false when unset, empty, false or 0', () => {
    expect([{ CI: 'true' }, { CI: '1' }].map((env) => isCi(env))).toEqual([true, true]);
    expect([{}, { CI: '' }, { CI: 'false' }, { CI: '0' }].map((env) => isCi(env))).toEqual([false, false, false, false]);
  });
});
