#!/usr/bin/env node
// Two clients, one session: both watch every event, either can cancel.
//
//   node examples/shared-session/shared-session.mjs
//
// Starts its own reference server (no setup needed), then:
//   1. alice prompts; bob, who only watches, cancels it;
//   2. bob prompts; alice cancels it;
//   3. alice prompts something short; it completes;
//   4. bob opens a session the server does not know: it ends with session_not_found.
// It checks that each cancel is a normal end for everyone (one turn.canceled,
// naming who canceled; no errors) and that alice and bob saw exactly the same
// events in the same order. Exits 0 when all of that held, 1 otherwise.
import { createClient } from 'agent-tether';
import { createServer } from 'agent-tether/server';

const say = (line) => process.stdout.write(`${line}\n`);

// An agent that tells a long story (until canceled) or a short one.
async function* storyteller({ prompt, signal }) {
  const words = prompt.includes('long') ? 200 : 6;
  for (let i = 1; i <= words; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    if (signal.aborted) return;
    yield { type: 'delta', text: `${i === 1 ? '' : ' '}word${i}` };
  }
}

const server = createServer({ agent: storyteller });
const { url } = await server.listen(0, '127.0.0.1');
const alice = createClient({ baseUrl: url, clientId: 'alice' });
const bob = createClient({ baseUrl: url, clientId: 'bob' });
const errors = [];
alice.on('error', (error) => errors.push(`alice: ${error.message}`));
bob.on('error', (error) => errors.push(`bob: ${error.message}`));

const failures = [];
const check = (ok, message) => {
  say(`${ok ? '✓' : '✗'} ${message}`);
  if (!ok) failures.push(message);
};

// A watchdog: a stuck step fails the script instead of hanging it.
const watchdog = setTimeout(() => {
  say('✗ timed out');
  process.exit(1);
}, 20_000);

try {
  const aliceSession = await alice.createSession();
  const bobSession = bob.session(aliceSession.id);
  say(`alice created session ${aliceSession.id}; bob joined it`);

  // Both watch everything that happens in the session.
  const seen = { alice: [], bob: [] };
  const waiters = new Set();
  const watch = (name, session) => {
    const subscription = session.subscribe();
    const done = (async () => {
      for await (const event of subscription) {
        seen[name].push(event);
        for (const waiter of waiters) waiter();
      }
    })();
    return { subscription, done };
  };
  const watchers = [watch('alice', aliceSession), watch('bob', bobSession)];
  /** Resolves once `name` has seen an event matching `predicate`. */
  const sees = (name, predicate) =>
    new Promise((resolve) => {
      const test = () => {
        if (seen[name].some(predicate)) {
          waiters.delete(test);
          resolve();
        }
      };
      waiters.add(test);
      test();
    });
  const deltasOf = (name, turnId) => seen[name].filter((e) => e.turnId === turnId && e.type === 'turn.delta').length;

  // 1. alice prompts, bob cancels.
  const first = await aliceSession.prompt('Tell me a long story');
  say(`alice › Tell me a long story   (turn ${first.id})`);
  await sees('bob', (e) => e.turnId === first.id && e.type === 'turn.delta' && deltasOf('bob', first.id) >= 3);
  say('bob watched 3 deltas of it arrive, and cancels it');
  const bobCancel = await bobSession.turn(first.id).cancel();
  check(bobCancel.cancelled === true, `bob's cancel → ${JSON.stringify(bobCancel)}`);
  const firstEnd = await first.result;
  check(
    firstEnd.type === 'turn.canceled' && firstEnd.canceledBy === 'bob',
    `alice's turn.result: ${firstEnd.type} by ${firstEnd.canceledBy}`,
  );

  // 2. bob prompts, alice cancels.
  const second = await bobSession.prompt('Tell me another long story');
  say(`bob › Tell me another long story   (turn ${second.id})`);
  await sees('alice', (e) => e.turnId === second.id && e.type === 'turn.delta' && deltasOf('alice', second.id) >= 3);
  say('alice watched 3 deltas of it arrive, and cancels it');
  const aliceCancel = await aliceSession.turn(second.id).cancel();
  check(aliceCancel.cancelled === true, `alice's cancel → ${JSON.stringify(aliceCancel)}`);
  const secondEnd = await second.result;
  check(
    secondEnd.type === 'turn.canceled' && secondEnd.canceledBy === 'alice',
    `bob's turn.result: ${secondEnd.type} by ${secondEnd.canceledBy}`,
  );

  // A cancel that arrives too late is an answer, not an error.
  const late = await bobSession.turn(second.id).cancel();
  check(late.cancelled === false && late.reason === 'already_finished', `bob's late cancel → ${JSON.stringify(late)}`);

  // 3. a short turn that completes.
  const third = await aliceSession.prompt('Tell me a short story');
  const thirdEnd = await third.result;
  say(`alice › Tell me a short story → ${JSON.stringify(thirdEnd.output)}`);
  check(thirdEnd.type === 'turn.completed', `the third turn ended with ${thirdEnd.type}`);

  // 4. A session the server does not know (it expired, or a server with memory
  // storage restarted) is an answer, not an outage: the subscription ends with
  // a typed error at once, bob's connection and his watch of the shared session
  // carry on. An app would tell the user and offer a new session here.
  let gone;
  try {
    for await (const _ of bob.session('no-such-session').subscribe()) {
      // nothing arrives: the session does not exist
    }
  } catch (error) {
    gone = error;
  }
  check(gone?.code === 'session_not_found', `bob's subscription to an unknown session ended with ${gone?.code}, not a reconnect loop`);

  // Both watchers must catch up to the third turn's terminal, then compare notes.
  await Promise.all([
    sees('alice', (e) => e.seq === thirdEnd.seq),
    sees('bob', (e) => e.seq === thirdEnd.seq),
  ]);
  for (const { subscription } of watchers) subscription.close();
  await Promise.all(watchers.map((w) => w.done));

  const summary = (events) => events.map((e) => `${e.seq}:${e.type}:${e.turnId ?? ''}`).join('\n');
  check(
    seen.alice.length > 0 && summary(seen.alice) === summary(seen.bob),
    `alice and bob saw the same ${seen.alice.length} events, in the same order`,
  );
  const terminals = seen.alice
    .filter((e) => ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type))
    .map((e) => `${e.type}${e.canceledBy ? ` by ${e.canceledBy}` : ''}`)
    .join(', ');
  check(
    terminals === 'turn.canceled by bob, turn.canceled by alice, turn.completed',
    `terminal events, one per turn: ${terminals}`,
  );
  check(errors.length === 0, errors.length === 0 ? 'no errors on either client' : `errors: ${errors.join('; ')}`);
} catch (error) {
  failures.push(error.message);
  say(`✗ ${error.stack ?? error.message}`);
} finally {
  clearTimeout(watchdog);
  await Promise.all([alice.close(), bob.close()]);
  await server.close();
}

say(failures.length === 0 ? 'shared session: OK' : `shared session: FAILED (${failures.length} check(s))`);
process.exitCode = failures.length === 0 ? 0 : 1;
