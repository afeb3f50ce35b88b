import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

/** The repository root. */
export const root = resolve(import.meta.dirname, '../..');

/**
 * Maps `agent-tether` and `agent-tether/<entry>` to the sources, so examples
 * run exactly as written (importing the package by name) without a build of
 * dist/. Every other bare import stays external and resolves from node_modules.
 */
const sourcesPlugin: Plugin = {
  name: 'agent-tether-sources',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const match = /^agent-tether(?:\/(protocol|server|testing))?$/.exec(args.path);
      if (match) return { path: join(root, 'src', `${match[1] ?? 'index'}.ts`) };
      return { path: args.path, external: true };
    });
  },
};

/**
 * Bundles a Node script (an example, or src/cli.ts) into `.tmp/` inside the
 * repository, so its external imports resolve from the repository's
 * node_modules. Returns the bundle's path and a function removing it.
 */
export async function bundleForNode(entry: string): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = join(root, '.tmp', 'test-bundles');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${basename(entry).replace(/\.[^.]+$/, '')}-${process.pid}-${Date.now()}.mjs`);
  await build({
    absWorkingDir: root,
    entryPoints: [join(root, entry)],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    plugins: [sourcesPlugin],
    logLevel: 'silent',
  });
  return { file, remove: () => rm(file, { force: true }) };
}

/** A child process with its output collected and helpers to wait on it. Kill it with `dispose()`. */
export class Child implements AsyncDisposable {
  readonly process: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #listeners = new Set<() => void>();

  constructor(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(process.execPath, [file, ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: 'pipe',
    });
    this.process.stdout.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      for (const listener of [...this.#listeners]) listener();
    });
    this.process.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolvePromise) => {
      this.process.once('exit', (code, signal) => resolvePromise({ code, signal }));
    });
  }

  /** Resolves with stdout once `pattern` matches the output written after offset `after`. */
  waitFor(pattern: RegExp | string, { after = 0, timeoutMs = 10_000 } = {}): Promise<string> {
    const matches = () => {
      const tail = this.stdout.slice(after);
      return typeof pattern === 'string' ? tail.includes(pattern) : pattern.test(tail);
    };
    if (matches()) return Promise.resolve(this.stdout);
    return new Promise((resolvePromise, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      const check = () => {
        if (!matches()) return;
        done();
        resolvePromise(this.stdout);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}${this.#output()}`));
      }, timeoutMs);
      this.#listeners.add(check);
      void this.exited.then(() => {
        if (!this.#listeners.has(check)) return;
        done();
        if (matches()) resolvePromise(this.stdout);
        else reject(new Error(`exited before ${String(pattern)} appeared${this.#output()}`));
      });
    });
  }

  /** Resolves with the exit, or rejects when it takes longer than `timeoutMs`. */
  async exit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms${this.#output()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #output(): string {
    return `\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /** Kills the process if it is still running and waits for it to be gone. */
  async dispose(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
