/** Starts a real `redis-server` on a free 127.0.0.1 port for a test, and stops or restarts it (same port, same dir) for fault tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { requireBinary } from './require-binary.js';
import { REDIS_SERVER } from './system-binaries.js';

/**
 * The redis-server binary for a suite, or `undefined` after one loud skip line
 * (outside CI; in CI a missing binary throws).
 *
 * @example
 * const redisBin = requireRedisServer('redis store');
 * describe.skipIf(!redisBin)('redis store', () => { … startRedisServer({ binary: redisBin! }) … });
 */
export function requireRedisServer(suite: string): string | undefined {
  return requireBinary(suite, REDIS_SERVER);
}

export interface RedisServerOptions {
  /** Path of the binary (from {@link requireRedisServer}). */
  binary: string;
  /** Turn the append-only file on (`appendfsync always`), for restart tests where data must survive. @default false */
  appendOnly?: boolean;
  /** How long to wait for PING to answer. @default 10000 */
  startTimeoutMs?: number;
}

/** A running (or stopped) redis-server owned by one test. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Its working directory (AOF lives here); removed by `close()`. */
  readonly dir: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Stop the process (SIGTERM, then SIGKILL after 3 s); idempotent. `kill: true` sends SIGKILL at once (a crash). */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Start it again on the same port and dir (after `stop()`), and wait until it answers PING. */
  start(): Promise<void>;
  /** Stop it and remove its dir. */
  close(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (redis-server cannot be told to pick one itself and report it). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when the server answers `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

/**
 * Start a redis-server on a free loopback port with persistence off
 * (`--save '' --appendonly no`) unless `appendOnly` is asked for, and wait
 * until it answers PING.
 *
 * @example
 * await using redis = await startRedisServer({ binary: redisBin });
 * const store = redisStore({ url: redis.url });
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-tether-redis-'));
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', options.appendOnly ? 'yes' : 'no',
      ...(options.appendOnly ? ['--appendfsync', 'always'] : []),
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--loglevel', 'warning',
      '--logfile', '',
    ];
    const proc = spawn(options.binary, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`redis-server exited at start (port ${port}): ${stderr.trim()}`);
      }
      if (await ping(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeoutMs} ms: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = async ({ kill = false } = {}): Promise<void> => {
    if (!isRunning()) return;
    const proc = child!;
    proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  // A port picked by probing can be taken between the probe and the launch: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freeLoopbackPort();
    try {
      await launch();
      break;
    } catch (error) {
      await stop({ kill: true });
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const close = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      return isRunning();
    },
    stop,
    start: async () => {
      if (isRunning()) return;
      await launch();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
