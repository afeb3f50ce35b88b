/**
 * Suite-wide default deadline for `vi.waitFor` (a vitest setup file).
 *
 * vitest gives `vi.waitFor` a fixed 1 s deadline, and has no setting for it.
 * Our waits are for real I/O — a first fetch in a fresh worker, a socket
 * reply — which on a busy machine (two cores, several suites at once) took
 * longer than 1 s and failed tests that were right. A condition that does
 * hold still ends the wait as soon as it holds; only a test that is already
 * failing waits longer. Deadlines a test passes itself are kept.
 */
import { vi } from 'vitest';

/** How long a `vi.waitFor` without its own `timeout` waits. */
export const WAIT_FOR_TIMEOUT_MS = 10_000;

const waitFor = vi.waitFor.bind(vi);
vi.waitFor = ((callback, options) =>
  waitFor(callback, typeof options === 'number' ? options : { timeout: WAIT_FOR_TIMEOUT_MS, ...options })) as typeof vi.waitFor;
