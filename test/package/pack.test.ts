import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// Installs the package the way a consumer would — from the tarball `npm pack`
// makes — and uses every entry point from ESM and from CJS.
describe('packed package', () => {
  let dir = '';

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'agent-tether-consumer-'));
    await run(npm, ['pack', '--pack-destination', dir, '--ignore-scripts'], { cwd: root });
    const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack produced no tarball');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    // msw is an optional peer dependency that agent-tether/testing needs.
    await run(npm, ['install', `./${tarball}`, 'msw@^3', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], {
      cwd: dir,
    });
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports every entry point from ESM and talks to its own server', async () => {
    await writeFile(
      join(dir, 'esm.mjs'),
      `
import { createClient, ClosedError, TetherError } from 'agent-tether';
import { SessionEvent } from 'agent-tether/protocol';
import { createServer, demoAgent, memoryStore, fileStore } from 'agent-tether/server';
import { createFaultProxy, createTestServer } from 'agent-tether/testing';
for (const [name, value] of Object.entries({ createClient, SessionEvent, createServer, demoAgent, memoryStore, fileStore, createFaultProxy, createTestServer })) {
  if (!value) throw new Error(name + ' missing');
}
if (!(new ClosedError() instanceof TetherError)) throw new Error('error tree broken');
const server = createServer({ agent: demoAgent({ reply: 'packed ok', delayMs: 0 }) });
const { url } = await server.listen(0, '127.0.0.1');
const client = createClient({ baseUrl: url });
const session = await client.createSession();
const turn = await session.prompt('hi');
const end = await turn.result;
await client.close();
await server.close();
console.log(JSON.stringify({ type: end.type, output: end.output }));
`,
    );
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: dir, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ type: 'turn.completed', output: 'packed ok' });
  });

  it('requires every entry point from CJS', async () => {
    await writeFile(
      join(dir, 'cjs.cjs'),
      `
const client = require('agent-tether');
const protocol = require('agent-tether/protocol');
const server = require('agent-tether/server');
const testing = require('agent-tether/testing');
console.log(JSON.stringify({
  createClient: typeof client.createClient,
  ClosedError: typeof client.ClosedError,
  SessionEvent: typeof protocol.SessionEvent?.safeParse,
  createServer: typeof server.createServer,
  createFaultProxy: typeof testing.createFaultProxy,
}));
`,
    );
    const { stdout } = await run(process.execPath, ['cjs.cjs'], { cwd: dir, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual({
      createClient: 'function',
      ClosedError: 'function',
      SessionEvent: 'function',
      createServer: 'function',
      createFaultProxy: 'function',
    });
  });
});
