/** A reference server in a child process (test/server/fixtures/child-server.mjs), for crash and permission tests. */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTeardown } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/child-server.mjs', import.meta.url));

/**
 * Whether `user` can run the child server at all: Node and this checkout (the fixture and the
 * built server it imports) must be readable by it, which a checkout under a private home is not.
 */
export function canRunChildAs(user: { uid: number; gid: number }): boolean {
  const probe = spawnSync(process.execPath, ['--no-warnings', CHILD, '--probe'], { uid: user.uid, gid: user.gid, timeout: 20_000, stdio: 'ignore' });
  return probe.status === 0;
}

/** The child's arguments after the script: the store directory and the agent mode (`heavy` streams fast). */
function spawnChild(dir: string, mode: string, options: SpawnOptions) {
  const child = spawn(process.execPath, ['--no-warnings', CHILD, dir, mode], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  onTeardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { child, exited, stderr: () => stderr };
}

/** Start a server child on `dir` (spawn options such as `uid`/`gid` pass through); resolves once it listens. */
export async function startChild(dir: string, mode = 'heavy', options: SpawnOptions = {}) {
  const { child, exited, stderr } = spawnChild(dir, mode, options);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!).url);
    });
    child.once('exit', () => reject(new Error(`child exited early: ${stderr()}`)));
  });
  return { child, url, exited: exited.then(() => undefined) };
}

/** Start a server child that must fail to start: its exit code and stderr. */
export function failedChild(dir: string, mode = 'heavy', options: SpawnOptions = {}) {
  return spawnChild(dir, mode, options).exited;
}
