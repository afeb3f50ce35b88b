import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import tsupConfig from '../../tsup.config.js';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  license: string;
  engines: { node: string };
  devEngines: { runtime: { name: string; version: string; onFail: string } };
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  exports: Record<string, { require?: { types: string } } | string>;
  typesVersions: Record<string, Record<string, string[]>>;
};

/** The `x.y` of a floor written `>=x.y`. */
function floorOf(range: string): string {
  const floor = /^>=(\d+\.\d+)$/.exec(range)?.[1];
  if (!floor) throw new Error(`engines.node should be a plain floor (>=x.y), got ${range}`);
  return floor;
}
const major = (version: string) => /(\d+)/.exec(version)![1];

describe('package metadata and tooling agree with each other', () => {
  it('bundles as external only what the package depends on (no stale entries such as p-retry)', () => {
    const configs = Array.isArray(tsupConfig) ? tsupConfig : [tsupConfig];
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    for (const config of configs as { external?: (string | RegExp)[] }[]) {
      for (const entry of config.external ?? []) {
        if (entry instanceof RegExp) continue; // node: builtins
        expect(declared, `tsup external "${entry}"`).toContain(entry);
      }
    }
  });

  it('types Node at the major of the engines floor, so an API newer than the floor fails the typecheck', () => {
    expect(major(pkg.devDependencies['@types/node']!)).toBe(major(floorOf(pkg.engines.node)));
  });

  it('pins the contributors\' Node in .nvmrc to the node devDependency the npm scripts run on', async () => {
    const nvmrc = (await readFile(join(root, '.nvmrc'), 'utf8')).trim();
    expect(nvmrc).toMatch(/^\d+$/);
    expect(major(pkg.devDependencies.node!)).toBe(nvmrc);
    expect(pkg.devEngines.runtime).toMatchObject({ name: 'node', onFail: 'warn' });
    expect(pkg.devEngines.runtime.version).toContain(`^${nvmrc}.`);
  });

  it('ships an MIT LICENSE matching package.json', async () => {
    expect(pkg.license).toBe('MIT');
    const license = await readFile(join(root, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} agent-tether contributors\n/);
  });

  it('maps every subpath in typesVersions to its CJS types, for moduleResolution "node"', () => {
    const subpaths = Object.keys(pkg.exports).filter((key) => key !== '.' && key !== './package.json');
    expect(subpaths.length).toBeGreaterThan(0);
    for (const subpath of subpaths) {
      const entry = pkg.exports[subpath] as { require: { types: string } };
      expect(pkg.typesVersions['*']![subpath.slice(2)], subpath).toEqual([entry.require.types]);
    }
  });
});
