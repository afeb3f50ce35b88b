/**
 * The chaos suite's flake, forced: a client attaches to a finished turn by id
 * (`cancelStale` / `cancelOther`) while the server restarts slowly (a loaded
 * machine), longer than one HTTP request's retries. The turn must settle with
 * the server's terminal, not a local `turn.error` (F5).
 */
import { afterEach, expect, it } from 'vitest';
import { newCounters, World } from './world.js';
import { CLUSTER_SLOWDOWN } from '../support/suite-server.js';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

it('a poll client attaching by id during a slow restart gets the turn the server completed, not a local turn.error', async () => {
  world = new World([['poll'], ['poll']], newCounters());
  await world.start();
  await world.prompt(0, 'short', 2);
  const turnId = world.prompted[0]!.id;
  for (let i = 0; i < 500 && !(await world.serverTurn(turnId)).terminal; i++) await new Promise((r) => setTimeout(r, 10));
  expect((await world.serverTurn(turnId)).terminal?.type).toBe('turn.completed');
  const w = world;
  // Down for longer than one request's retries (at most 0.2 + 0.4 + 0.8 + 1.6 s of backoff).
  await w.restart({ downMs: 4000, whileDown: () => void w.attach(1, turnId) });
  await w.verify();
}, 30_000 * CLUSTER_SLOWDOWN);
