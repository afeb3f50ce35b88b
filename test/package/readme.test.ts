import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { root } from '../examples/support.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const readme = await readFile(join(root, 'README.md'), 'utf8');

/** The body of the README's fenced block whose info string is `info` (e.g. `js client.mjs`). */
function block(info: string): string {
  const match = new RegExp(`^\`\`\`${info.replace('.', '\\.')}\\n([\\s\\S]*?)^\`\`\``, 'm').exec(readme);
  if (!match) throw new Error(`README.md has no \`\`\`${info} block`);
  return match[1]!;
}

// The quickstart as a user runs it: plain .mjs files, not compiled or bundled,
// importing the package by name (a symlink to this repository, so its dist/).
// Running unbundled matters: a bundler would rewrite syntax the runtime lacks.
describe('README quickstart', () => {
  let dir = '';
  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'agent-tether-readme-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(root, join(dir, 'node_modules', 'agent-tether'), 'dir');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uses no `using` declaration (a SyntaxError in plain JavaScript on Node 22)', () => {
    for (const file of ['server.mjs', 'client.mjs']) expect(block(`js ${file}`)).not.toMatch(/^\s*(await\s+)?using\s/m);
  });

  it(`server.mjs and client.mjs run as shown on this Node (${process.version}) and a turn completes`, async () => {
    // The one change: port 0 instead of 4317, so the test never collides with anything.
    const server = block('js server.mjs').replace('server.listen(4317,', 'server.listen(0,');
    expect(server).toContain('server.listen(0,');
    await writeFile(join(dir, 'server.mjs'), server);
    // Started in the temporary directory, where its `./sessions` belongs.
    const serving = spawn(process.execPath, ['server.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => serving.once('exit', (code) => resolve(code)));
    let stderr = '';
    serving.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    onTestFinished(async () => {
      serving.kill('SIGKILL');
      await exited;
    });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      serving.stdout.setEncoding('utf8').on('data', (text: string) => {
        out += text;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`server.mjs exited (${code}) before listening: ${stderr}`)));
    });

    const client = block('js client.mjs').replace("'http://127.0.0.1:4317'", `'${url}'`);
    expect(client).toContain(url);
    await writeFile(join(dir, 'client.mjs'), client);
    const { stdout } = await run(process.execPath, [join(dir, 'client.mjs')], { cwd: dir, timeout: 20_000 });
    expect(stdout).toMatch(/^You said: "Rename foo to bar"\. This is the agent-tether demo agent\./);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('turn.completed');

    serving.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(existsSync(join(dir, 'sessions'))).toBe(true); // the fileStore was used
  }, 60_000);
});

// npmjs.com and editors show the README from the tarball, so every relative
// link in it (and in the docs it ships) must point at a file that is packed.
describe('links of the packed README and docs', () => {
  let packed: string[] = [];
  beforeAll(async () => {
    const { stdout } = await run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    packed = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  }, 60_000);

  it('ships the README, LICENSE, CHANGELOG and docs', () => {
    for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md', 'docs/server.md', 'docs/client.md']) expect(packed).toContain(file);
  });

  it('resolves every relative link of every packed markdown file inside the package', () => {
    const markdown = packed.filter((path) => path.endsWith('.md'));
    expect(markdown.length).toBeGreaterThan(3);
    const dead: string[] = [];
    return Promise.all(
      markdown.map(async (file) => {
        const text = await readFile(join(root, file), 'utf8');
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:|^#/.test(target!)) continue; // absolute URL or same-page anchor
          const path = posix.normalize(posix.join(dirname(file), target!.split('#')[0]!));
          const found = packed.some((p) => p === path || p.startsWith(path.endsWith('/') ? path : `${path}/`));
          if (!found) dead.push(`${file}: ${target}`);
        }
      }),
    ).then(() => expect(dead).toEqual([]));
  });
});
