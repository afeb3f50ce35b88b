import { createServer, demoAgent, fileStore, memoryStore } from '../server.js';
import type { ServeOptions } from './args.js';
import { EXIT } from './exit-codes.js';

/** Longest wait for a graceful close before the process gives up on it. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * `agent-tether serve`: the reference server with the demo agent, until
 * SIGINT or SIGTERM closes it gracefully (1001 to WebSocket clients, queued
 * events flushed: F7). A second signal exits at once.
 *
 * @returns the exit code once the server has closed.
 */
export async function runServe(options: ServeOptions): Promise<number> {
  const server = createServer({
    agent: demoAgent(),
    store: options.store === undefined ? memoryStore() : fileStore({ dir: options.store }),
  });
  let url: string;
  try {
    ({ url } = await server.listen(options.port, options.host));
  } catch (error) {
    process.stderr.write(`agent-tether: cannot listen on ${options.host}:${options.port}: ${messageOf(error)}\n`);
    return EXIT.failure;
  }
  const where = options.store === undefined ? 'sessions in memory' : `sessions in ${options.store}`;
  process.stdout.write(`agent-tether server listening on ${url} (${where})\nPress Ctrl-C to stop.\n`);

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
    process.stderr.write(`${name} again: exiting without waiting for the close to finish\n`);
    process.exit(EXIT.failure);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  let timer: NodeJS.Timeout | undefined;
  try {
    const closed = await Promise.race([
      server.close().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
      }),
    ]);
    if (!closed) {
      process.stderr.write(`agent-tether: the server did not close within ${CLOSE_TIMEOUT_MS} ms\n`);
      process.exit(EXIT.failure);
    }
  } catch (error) {
    process.stderr.write(`agent-tether: closing the server failed: ${messageOf(error)}\n`);
    return EXIT.failure;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
  }
  process.stdout.write('server closed\n');
  return EXIT.ok;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
