/** `agent-tether demo`: runs its steps under a watchdog and tears everything down, whatever happened. */
import { systemClock, waitAtMost } from '../internal/clock.js';
import { describeValue } from '../internal/describe-value.js';
import type { DemoCommandOptions } from './args.js';
import { setUpDemo, type Cleanup } from './demo-context.js';
import { DEMO_STEPS } from './demo-steps.js';
import { DemoFailure, Transcript } from './demo-transcript.js';
import { EXIT } from './exit-codes.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the transcript goes. @default process.stdout.write */
  write?: ((text: string) => void) | undefined;
  /** The watchdog: the demo fails if it has not finished by then. @default 30_000 */
  timeoutMs?: number | undefined;
  /** Pause between deltas of the demo agent. @default 40 */
  agentDelayMs?: number | undefined;
}

/** Bound on each teardown call, so a misbehaving close cannot hold the demo past its watchdog. */
const CLOSE_BOUND_MS = 5_000;

/**
 * Runs the demo: an embedded reference server behind a fault-injecting proxy,
 * two clients, six steps, each checking what it shows.
 *
 * @returns `true` when every step behaved.
 * @example
 * const ok = await runDemo({ write: (text) => process.stdout.write(text) });
 */
export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const out = new Transcript(options.write ?? ((text) => void process.stdout.write(text)));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const startedAt = Date.now();
  let current = 'starting';
  const cleanups: Cleanup[] = [];

  const body = async () => {
    const context = await setUpDemo(out, options.agentDelayMs ?? 40, cleanups);
    for (const [i, step] of DEMO_STEPS.entries()) {
      current = `step ${i + 1}`;
      out.heading(i + 1, DEMO_STEPS.length, step.title);
      await step.run(context);
    }
  };

  let failure: unknown;
  // The first failure is the one reported: after a timeout, the body failing
  // while it unwinds (its server closed under it) is only a consequence.
  const running = body().catch((error: unknown) => {
    failure ??= error ?? new DemoFailure('a step failed without saying why');
  });
  if (!(await waitAtMost(systemClock, running, timeoutMs))) {
    failure ??= new DemoFailure(`timed out after ${timeoutMs} ms (during: ${current})`);
  }
  // Tear down whatever a failed step left running, each bounded.
  for (const { name, run } of cleanups.reverse()) {
    const closing = run().catch(() => {
      out.line(`  (closing ${name} failed)`);
    });
    if (!(await waitAtMost(systemClock, closing, CLOSE_BOUND_MS))) out.line(`  (closing ${name} did not finish in time)`);
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  if (failure === undefined) {
    out.final(`Demo complete: all ${DEMO_STEPS.length} steps behaved (${seconds} s).`);
    return true;
  }
  out.final(`Demo FAILED in ${current}: ${describeValue(failure)}`);
  return false;
}

/**
 * `agent-tether demo`: runs {@link runDemo} and exits with 0 only when every
 * step behaved.
 */
export async function runDemoCommand(options: DemoCommandOptions): Promise<number> {
  const ok = options.cluster
    ? await (await import('./demo-cluster.js')).runClusterDemo({ timeoutMs: Math.max(options.timeoutMs, 60_000) })
    : await runDemo({ timeoutMs: options.timeoutMs });
  // Everything was closed, so the process should now exit on its own. If a
  // handle survived, that is a leak (F7): say so and fail rather than hang.
  setTimeout(() => {
    if (ok) {
      const left = process.getActiveResourcesInfo().filter((name) => name !== 'Timeout');
      const what = left.join(', ') || 'timers';
      process.stderr.write(`agent-tether demo: the process did not exit after every close; still open: ${what}\n`);
    }
    process.exit(EXIT.failure);
  }, ok ? 2_000 : 500).unref();
  return ok ? EXIT.ok : EXIT.failure;
}
