/** Demo step: the agent asks for an approval mid-turn; both clients see it, bob's answer wins, alice's comes second. */
import type { TurnEvent } from '../index.js';
import { CLEAN_UP_REQUEST, cleanUpReply } from '../server/demo-agent.js';
import { outputOf, type DemoContext } from './demo-context.js';
import { DemoFailure } from './demo-transcript.js';

/** Step (input requests): the first answer wins and is an event every client sees; a later one is refused, not an error. */
export async function approvalAnswered({ out, session, bob }: DemoContext): Promise<void> {
  const turn = await session.prompt('Clean up the build folder');
  out.line('  alice › Clean up the build folder');
  const bobTurn = bob.session(session.id).turn(turn.id);
  const [asked, bobAsked] = await Promise.all([firstRequest(turn), firstRequest(bobTurn)]);
  out.line(`  agent ? ${asked.request.prompt}  [${(asked.request.options ?? []).map((o) => o.id).join(' / ')}]   (alice and bob both see it)`);
  out.check(
    asked.requestId === bobAsked.requestId && asked.request.prompt === CLEAN_UP_REQUEST.prompt,
    'both clients saw the same turn.input_requested',
    `alice saw ${asked.requestId}, bob saw ${bobAsked.requestId}`,
  );
  const bobReply = await bobTurn.respond(asked.requestId, { option: 'approve' });
  out.line(`  bob   ✓ turn.respond(approve) → ${JSON.stringify(bobReply)}`);
  const aliceReply = await turn.respond(asked.requestId, { option: 'deny' });
  out.line(`  alice ✕ turn.respond(deny) afterwards → ${JSON.stringify(aliceReply)}`);
  out.check(
    bobReply.accepted && !aliceReply.accepted && aliceReply.reason === 'already_answered',
    'the first answer won; the later one is an answer (already_answered), not an error',
    `bob got ${JSON.stringify(bobReply)}, alice got ${JSON.stringify(aliceReply)}`,
  );
  const [end] = await Promise.all([turn.result, bobTurn.result]);
  out.line(`  agent ‹ ${outputOf(end)}`);
  const expected = cleanUpReply({ status: 'answered', answer: { option: 'approve' }, answeredBy: 'bob', source: 'client' });
  out.check(
    end.type === 'turn.completed' && outputOf(end) === expected,
    "the agent went on with bob's answer (turn.input_answered, answeredBy: bob)",
    `the turn ended with ${JSON.stringify(end)}`,
  );
}

type Requested = Extract<TurnEvent, { type: 'turn.input_requested' }>;

/** Read a turn until its first input request (the rest of the turn is read in the background). */
async function firstRequest(turn: AsyncIterable<TurnEvent>): Promise<Requested> {
  const iterator = turn[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new DemoFailure('the turn ended before the agent asked anything');
    if (next.value.type === 'turn.input_requested') {
      void (async () => {
        while (!(await iterator.next()).done);
      })();
      return next.value;
    }
  }
}
