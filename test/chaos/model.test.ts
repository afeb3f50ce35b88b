/**
 * Model-based chaos test (fast-check `fc.commands` + `fc.asyncModelRun`):
 * random sequences of prompts, cancels (own, another client's, stale) and
 * faults (reset, end without close frame, stall, WebSocket blocked, SSE
 * buffered, writes sliced, server restart with a file store, client close)
 * against the real reference server
 * behind the fault proxy, with 2–3 clients on random transport ladders.
 *
 * After every run (see `World.verify`): every turn has exactly one terminal
 * on every client and on every handle; each client's events and text per turn
 * equal the server's log; every subscription's `seq` is contiguous without
 * duplicates (or continues after an explicit `session.reset`); no 5xx; no
 * unhandled rejection; no handle left after close.
 *
 * Reproduce a failure: `CHAOS_SEED=<seed printed> npx vitest run test/chaos/model.test.ts`.
 * More runs: `CHAOS_RUNS=300`; every command as it runs: `CHAOS_TRACE=1`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resources, settledResources } from '../integration/helpers.js';
import { LADDERS, newCounters, World } from './world.js';
import { CLUSTER_SLOWDOWN } from '../support/suite-server.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20261121);
const RUNS = Number(process.env.CHAOS_RUNS ?? 100);
const counters = newCounters();
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => void rejections.push(reason);

beforeAll(() => void process.on('unhandledRejection', onRejection));
afterAll(() => void process.off('unhandledRejection', onRejection));

interface Model {
  clients: number;
  /** Turns prompted so far, by owner. */
  turns: number[];
}

type Cmd = fc.AsyncCommand<Model, World>;

function command(name: string, check: (m: Model) => boolean, run: (m: Model, w: World) => Promise<void> | void, update?: (m: Model) => void): Cmd {
  return {
    check,
    async run(m, w) {
      counters.commands[name.replace(/\(.*/, '')] = (counters.commands[name.replace(/\(.*/, '')] ?? 0) + 1;
      if (process.env.CHAOS_TRACE) console.error(`chaos: ${name}`);
      // A hang is a failure too: bounded, and named after the command that hung.
      await bounded(Promise.resolve(run(m, w)), 20_000 * CLUSTER_SLOWDOWN, name);
      update?.(m);
    },
    toString: () => name,
  };
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`chaos: ${what} did not finish within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const slot = (n: number) => fc.nat({ max: n - 1 });

/** Commands with weights: prompts and cancels often, each fault now and then. */
function commandArbs(clients: number): fc.WeightedArbitrary<Cmd>[] {
  const w = (weight: number, arbitrary: fc.Arbitrary<Cmd>) => ({ weight, arbitrary });
  return [
    w(5, fc.tuple(slot(clients), fc.constantFrom('short', 'short', 'hang'), fc.integer({ min: 1, max: 4 })).map(([c, kind, words]) =>
      command(
        `prompt(${c},${kind},${words})`,
        (m) => m.turns.length < 12,
        (_, w) => w.prompt(c, kind as 'short' | 'hang', words),
        (m) => void m.turns.push(c),
      ),
    )),
    w(2, fc.tuple(slot(clients), fc.nat()).map(([c, pick]) =>
      command(`cancelOwn(${c},${pick})`, (m) => m.turns.includes(c), (_, w) => w.cancelOwn(c, pick)),
    )),
    w(2, fc.tuple(slot(clients), fc.nat()).map(([c, pick]) =>
      command(`cancelOther(${c},${pick})`, (m) => m.turns.some((o) => o !== c), (_, w) => w.cancelOther(c, pick)),
    )),
    w(1, fc.tuple(slot(clients), fc.nat()).map(([c, pick]) =>
      command(`cancelStale(${c},${pick})`, (m) => m.turns.length > 0, (_, w) => w.cancelStale(c, pick)),
    )),
    w(2, fc.constant(command('reset', () => true, (_, w) => w.reset()))),
    w(2, fc.constant(command('endWithoutClose', () => true, (_, w) => w.end()))),
    w(1, fc.constant(command('stall', () => true, (_, w) => w.stall()))),
    w(1, fc.constant(command('blockWebSocket', () => true, (_, w) => w.blockWebSocket()))),
    w(1, fc.constant(command('bufferSse', () => true, (_, w) => w.bufferSse()))),
    w(1, fc.integer({ min: 1, max: 64 }).map((bytes) => command(`sliceWrites(${bytes})`, () => true, (_, w) => w.sliceWrites(bytes)))),
    w(1, fc.constant(command('restartServer', () => true, (_, w) => w.restart()))),
    w(1, slot(clients).map((c) => command(`closeClient(${c})`, () => true, (_, w) => w.closeClient(c)))),
  ];
}

/** Every run opens with a few prompts (so there is always something to break), then `fc.commands`. */
function promptArb(clients: number): fc.Arbitrary<Cmd> {
  return fc.tuple(slot(clients), fc.constantFrom('short', 'hang'), fc.integer({ min: 1, max: 4 })).map(([c, kind, words]) =>
    command(`prompt(${c},${kind},${words})`, () => true, (_, w) => w.prompt(c, kind as 'short' | 'hang', words), (m) => void m.turns.push(c)),
  );
}

const scenario = fc
  .integer({ min: 2, max: 3 })
  .chain((clients) =>
    fc.record({
      ladders: fc.array(fc.constantFrom(...LADDERS), { minLength: clients, maxLength: clients }),
      opening: fc.array(promptArb(clients), { minLength: 2, maxLength: 3 }),
      // One weighted oneof: fc.commands takes plain arbitraries, the weights keep faults frequent.
      commands: fc.commands([fc.oneof(...commandArbs(clients))], { maxCommands: 16, size: 'max' }),
    }),
  );

it(
  `chaos: ${RUNS} runs from seed ${SEED}; every turn one terminal everywhere, exact text, contiguous seq, no 5xx, no leak`,
  async () => {
    const baseline = resources();
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ ladders, opening, commands }) => {
          const world = new World(ladders, counters);
          let failure: unknown;
          try {
            if (process.env.CHAOS_TRACE) console.error(`chaos: run with ladders ${JSON.stringify(ladders)}`);
            await bounded(world.start(), 10_000 * CLUSTER_SLOWDOWN, 'start');
            await fc.asyncModelRun(() => ({ model: { clients: ladders.length, turns: [] }, real: world }), [...opening, ...commands]);
            await bounded(world.verify(), 40_000 * CLUSTER_SLOWDOWN, 'verify');
          } catch (error) {
            failure = error;
          }
          try {
            await bounded(world.close(), 15_000 * CLUSTER_SLOWDOWN, 'close');
          } catch (error) {
            // Report the first failure; a hanging teardown names its step.
            failure ??= new Error(`${(error as Error).message} (stuck at: ${world.step})`);
          }
          if (failure) throw failure;
          counters.runs += 1;
          expect(rejections).toEqual([]);
          // Nothing of the run survives it: clients, proxy, server all closed.
          expect(await settledResources(baseline, 5000)).toEqual({});
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true, verbose: 1 },
      );
    } catch (error) {
      console.error(`CHAOS FAILED seed=${SEED} (reproduce: CHAOS_SEED=${SEED} CHAOS_RUNS=${RUNS} npx vitest run test/chaos/model.test.ts)`);
      throw error;
    } finally {
      const faults = Object.values(counters.faults).reduce((a, b) => a + b, 0);
      console.log(
        `CHAOS SUMMARY seed=${SEED} runs=${counters.runs} faults=${faults} ${JSON.stringify(counters.faults)} turns=${counters.turns} ` +
          `serverEvents=${counters.serverEvents} delivered=${counters.delivered} resets=${counters.resets} ` +
          `lost=${counters.lost} duplicated=${counters.duplicated} doubleTerminated=${counters.doubleTerminated} commands=${JSON.stringify(counters.commands)}`,
      );
    }
  },
  240_000 * CLUSTER_SLOWDOWN,
);
