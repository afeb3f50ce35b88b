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
/** A consumer project in a temporary folder with the packed tarball (and `extra` packages) installed. */
async function consumer(extra: string[]): Promise<string> {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = await mkdtemp(join(tmpdir(), 'agent-tether-consumer-'));
  await run(npm, ['pack', '--pack-destination', dir, '--ignore-scripts'], { cwd: root });
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack produced no tarball');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await run(npm, ['install', `./${tarball}`, ...extra, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], { cwd: dir });
  return dir;
}

describe('packed package', () => {
  let dir = '';

  beforeAll(async () => {
    // msw is an optional peer dependency that agent-tether/testing's msw handlers need.
    dir = await consumer(['msw@^3']);
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
  mswHandlers: testing.createMswHandlers({ baseUrl: 'http://tether.test' }).handlers.length > 0,
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
      mswHandlers: true,
    });
  });
});

// msw is an optional peer: without it every testing helper but the msw
// handlers must still import and work, and the msw handlers must say what to install.
describe('packed package without msw', () => {
  let dir = '';

  beforeAll(async () => {
    dir = await consumer([]);
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The same program in both module systems: a test server reached through a fault proxy, then the msw handlers' error.
  const program = `
  let mswFound = true;
  try { requireFrom('msw'); } catch { mswFound = false; }
  const server = await testing.createTestServer({ script: [{ delta: 'through the proxy' }] });
  const proxy = await testing.createFaultProxy({ target: server.url }).listen();
  const client = createClient({ baseUrl: proxy.url, transports: ['sse'] });
  const session = await client.createSession();
  const end = await (await session.prompt('hi')).result;
  await client.close();
  await proxy.close();
  await server.close();
  let mswError = '';
  try { testing.createMswHandlers({ baseUrl: 'http://tether.test' }); } catch (error) { mswError = error.message; }
  console.log(JSON.stringify({ mswFound, output: end.output, calls: server.agent.calls.length, mswError }));
`;
  const expected = {
    mswFound: false,
    output: 'through the proxy',
    calls: 1,
    mswError: expect.stringContaining('npm install --save-dev msw'),
  };

  it('imports agent-tether/testing from ESM and uses createTestServer and createFaultProxy', async () => {
    await writeFile(
      join(dir, 'no-msw.mjs'),
      `
import { createRequire } from 'node:module';
import { createClient } from 'agent-tether';
import * as testing from 'agent-tether/testing';
const requireFrom = createRequire(import.meta.url);
${program}`,
    );
    const { stdout } = await run(process.execPath, ['no-msw.mjs'], { cwd: dir, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual(expected);
  });

  it('requires agent-tether/testing from CJS and uses createTestServer and createFaultProxy', async () => {
    await writeFile(
      join(dir, 'no-msw.cjs'),
      `
const { createClient } = require('agent-tether');
const testing = require('agent-tether/testing');
const requireFrom = require;
(async () => {
${program}
})().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    const { stdout } = await run(process.execPath, ['no-msw.cjs'], { cwd: dir, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual(expected);
  });
});
