/** `agent-tether serve`: the reference server with the demo agent, until a signal closes it. */
import { stat } from 'node:fs/promises';
import { systemClock, waitAtMost } from '../internal/clock.js';
import { describeValue } from '../internal/describe-value.js';
import { consoleLogger } from '../logging/logger.js';
import { createServer, demoAgent, fileStore, memoryStore, tokenAuthenticator } from '../server.js';
import { MIN_TOKEN_LENGTH, type ServeOptions } from './args.js';
import { EXIT } from './exit-codes.js';

/** Longest wait for a graceful close before the process gives up on it. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * `agent-tether serve`: the reference server with the demo agent, until
 * SIGINT or SIGTERM closes it gracefully (1001 to WebSocket clients, queued
 * events flushed: F7). A second signal exits at once.
 *
 * @returns the exit code once the server has closed: 2 when the command
 * line named something unusable (a `--store` that is a file, a port in use),
 * with one line saying which.
 */
export async function runServe(options: ServeOptions): Promise<number> {
  const storeProblem = options.store === undefined ? undefined : await checkStoreDir(options.store);
  if (storeProblem !== undefined) return fail(storeProblem, EXIT.usage);
  const token = options.token ?? process.env.AGENT_TETHER_TOKEN;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    return fail(`AGENT_TETHER_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters`, EXIT.usage);
  }
  const server = createServer({
    agent: demoAgent(),
    store: options.store === undefined ? memoryStore() : fileStore({ dir: options.store }),
    logger: consoleLogger(options.logLevel),
    // One shared secret: whoever holds it is the one principal `token`, so every holder sees every session.
    ...(token === undefined ? {} : { authenticate: tokenAuthenticator({ [token]: 'token' }) }),
    ...(options.allowOrigins === undefined ? {} : { allowedOrigins: options.allowOrigins }),
  });
  let url: string;
  try {
    ({ url } = await server.listen(options.port, options.host));
  } catch (error) {
    const known = explainListenError(error, options);
    return fail(known ?? `cannot listen on ${options.host}:${options.port}: ${describeValue(error)}`, known ? EXIT.usage : EXIT.failure);
  }
  const where = options.store === undefined ? 'sessions in memory' : `sessions in ${options.store}`;
  const auth = token === undefined ? 'no authentication' : 'bearer token required';
  process.stdout.write(
    `agent-tether server listening on ${url} (${where}; ${auth})\n` +
      'Try a prompt starting with "slow" for a reply that streams for about 10 s (time to cancel it).\n' +
      'Press Ctrl-C to stop.\n',
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (name: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  process.stdout.write(`${signal}: closing the server…\n`);
  const force = (name: NodeJS.Signals) => {
    process.stderr.write(`agent-tether: ${name} again: exiting without waiting for the close to finish\n`);
    process.exit(EXIT.failure);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  try {
    let failure: unknown;
    const closing = server.close().catch((error: unknown) => {
      failure = error;
    });
    if (!(await waitAtMost(systemClock, closing, CLOSE_TIMEOUT_MS))) {
      process.stderr.write(`agent-tether: the server did not close within ${CLOSE_TIMEOUT_MS} ms\n`);
      process.exit(EXIT.failure);
    }
    if (failure !== undefined) return fail(`closing the server failed: ${describeValue(failure)}`, EXIT.failure);
  } finally {
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
  }
  process.stdout.write('server closed\n');
  return EXIT.ok;
}

function fail(line: string, code: number): number {
  process.stderr.write(`agent-tether: ${line}\n`);
  return code;
}

/** Why `--store <dir>` cannot hold sessions, before the store trips over it; `undefined` when it can. */
async function checkStoreDir(dir: string): Promise<string | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) return `--store ${dir} is a file; it must name a directory (created if missing)`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined; // fileStore creates it
    return `--store ${dir} cannot be used: ${code === 'ENOTDIR' ? 'a part of the path is a file' : describeValue(error)}`;
  }
  return undefined;
}

/** One line for the failures a user fixes by changing the command line; `undefined` for the rest. */
function explainListenError(error: unknown, { host, port, store }: ServeOptions): string | undefined {
  const { code, syscall, path } = (error ?? {}) as NodeJS.ErrnoException;
  if (path !== undefined && store !== undefined) {
    return `--store ${store} cannot be used: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : describeValue(error)} (${path})`;
  }
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; choose another with --port (0 picks a free one)`;
    case 'EACCES':
      return syscall === 'listen' ? `not allowed to listen on ${host}:${port} (ports below 1024 need privileges)` : undefined;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `--host ${host} is not an address of this machine`;
    default:
      return undefined;
  }
}
