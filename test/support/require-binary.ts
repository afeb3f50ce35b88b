/** Finds the system binaries a suite needs: outside CI a missing one skips the suite with one loud line, in CI it fails the run. */
import { accessSync, constants, statSync } from 'node:fs';

/** One system binary a suite needs, and how a person gets it. */
export interface BinaryNeed {
  /** What it is, as a person calls it: `Chromium`, `Xvfb`. */
  name: string;
  /** Where Debian's package puts it, tried in order. */
  paths: readonly string[];
  /** The environment variable that points at another binary instead (then only that path is tried). */
  envVar: string;
  /** The Debian package that installs it: `chromium`, `xvfb`. */
  debianPackage: string;
  /** For a binary that is not a Debian package: the command that installs it, said instead of `apt-get install`. */
  install?: string;
}

/** What {@link requireBinaries} reads and writes; tests pass their own. */
export interface RequireBinaryIo {
  env: Readonly<Record<string, string | undefined>>;
  /** Whether `path` is an executable file. */
  isExecutable: (path: string) => boolean;
  /** Where the one line about a skipped suite goes. */
  warn: (line: string) => void;
}

/** Whether `path` is a file this process may execute (a folder is not). */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const defaultIo: RequireBinaryIo = {
  env: process.env,
  isExecutable: isExecutableFile,
  // Straight to stderr, so the line stands out from vitest's own output.
  warn: (line) => process.stderr.write(`${line}\n`),
};

/** Whether this run is CI, where a missing binary is a failure rather than a skip. */
export function isCi(env: RequireBinaryIo['env'] = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The path of `need`, or `undefined` with the sentence saying where it was looked for. */
export function findBinary(
  need: BinaryNeed,
  io: Pick<RequireBinaryIo, 'env' | 'isExecutable'> = defaultIo,
): { path: string } | { path: undefined; looked: string } {
  const chosen = io.env[need.envVar];
  if (chosen) {
    return io.isExecutable(chosen)
      ? { path: chosen }
      : { path: undefined, looked: `${need.name} not found at ${chosen} (from ${need.envVar})` };
  }
  const path = need.paths.find((candidate) => io.isExecutable(candidate));
  return path ? { path } : { path: undefined, looked: `${need.name} not found at ${need.paths.join(' or ')}` };
}

/**
 * The paths of every binary `suite` needs, or `undefined` when one is missing:
 * then, outside CI, one line names the suite, what is missing, the Debian
 * packages to install and the variables that point elsewhere; in CI
 * (`CI=true`) it throws that line instead, so the run fails.
 *
 * @example
 * const bin = requireBinaries('browser end-to-end (Chromium)', { chromium: CHROMIUM });
 * describe.skipIf(!bin)('examples/browser in Chromium', () => { … bin!.chromium … });
 */
export function requireBinaries<K extends string>(
  suite: string,
  needs: Readonly<Record<K, BinaryNeed>>,
  io: RequireBinaryIo = defaultIo,
): Record<K, string> | undefined {
  const found: Partial<Record<K, string>> = {};
  const missing: { need: BinaryNeed; looked: string }[] = [];
  for (const key of Object.keys(needs) as K[]) {
    const result = findBinary(needs[key], io);
    if ('looked' in result) missing.push({ need: needs[key], looked: result.looked });
    else found[key] = result.path;
  }
  if (missing.length === 0) return found as Record<K, string>;

  const packages = [...new Set(missing.filter(({ need }) => !need.install).map(({ need }) => need.debianPackage))].join(' ');
  const installs = [...new Set(missing.flatMap(({ need }) => (need.install ? [need.install] : [])))];
  const how = [...(packages ? [`apt-get install ${packages}`] : []), ...installs.map((command) => `run ${command}`)].join(' and ');
  const vars = missing.map(({ need }) => need.envVar).join(' / ');
  const why = `${missing.map(({ looked }) => looked).join('; ')}: ${how}, or set ${vars} to the binary`;
  if (isCi(io.env)) throw new Error(`${suite} cannot run in CI: ${why}`);
  io.warn(`⚠ SKIPPED ${suite}: ${why} (CI=true makes this a failure)`);
  return undefined;
}

/** {@link requireBinaries} for a suite that needs one binary: its path, or `undefined` after the skip line. */
export function requireBinary(suite: string, need: BinaryNeed, io: RequireBinaryIo = defaultIo): string | undefined {
  return requireBinaries(suite, { binary: need }, io)?.binary;
}
