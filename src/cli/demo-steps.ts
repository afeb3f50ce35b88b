/** The steps of `agent-tether demo`, each showing one guarantee and checking it. */
import type { SessionEvent } from '../index.js';
import { describeValue } from '../internal/describe-value.js';
import { isTerminal } from '../protocol.js';
import { countTo, GREETING } from '../server/demo-agent.js';
import {
  countSockets,
  outputOf,
  seqOf,
  stream,
  until,
  untilTrue,
  type Client,
  type DemoContext,
} from './demo-context.js';
import { DemoFailure } from './demo-transcript.js';
import { approvalAnswered } from './demo-approval.js';

/** One step: its heading, and what it does (a {@link DemoFailure} when a check does not hold). */
export interface DemoStep {
  title: string;
  run: (context: DemoContext) => Promise<void>;
}

/** How far step 3 counts, and after how many numbers it cuts every connection. */
const COUNT = 30;
const CUT_AFTER = 5;

/** Step 1: a prompt streams its reply, and the streamed text is the server's output. */
export async function streamedTurn({ out, session }: DemoContext): Promise<void> {
  const turn = await session.prompt('Say hello');
  out.line('  alice › Say hello');
  const { text, deltas, end } = await stream(out, turn);
  out.check(end.type === 'turn.completed', 'the turn ended with turn.completed', `expected turn.completed, got ${end.type}`);
  out.check(
    deltas > 1 && text === outputOf(end) && text === GREETING,
    `it arrived in ${deltas} deltas, and the streamed text equals the server's turn.completed.output`,
    `streamed ${JSON.stringify(text)} in ${deltas} deltas, server output ${JSON.stringify(outputOf(end))}`,
  );
}

/** Step 2 (F1): a cancel by another client is a normal end for everyone, never an error. */
export async function cancelFromAnotherClient({ out, session, bob, errors }: DemoContext): Promise<void> {
  const turn = await session.prompt('Write an endless essay');
  out.line('  alice › Write an endless essay');
  out.startStream('  agent ‹ ');
  const aliceEvents: SessionEvent[] = [];
  let printing = true;
  let deltas = 0;
  let threeDeltas!: () => void;
  const streamedThree = new Promise<void>((resolve) => {
    threeDeltas = resolve;
  });
  const aliceDone = (async () => {
    for await (const event of turn) {
      aliceEvents.push(event);
      if (event.type !== 'turn.delta') continue;
      if (printing) out.inline(event.text);
      if (++deltas === 3) threeDeltas();
    }
  })();
  await Promise.race([
    streamedThree,
    aliceDone.then(() => {
      throw new DemoFailure("alice's turn ended before it streamed 3 deltas");
    }),
  ]);
  printing = false;
  out.inline(' …');
  out.endStream();

  const bobTurn = bob.session(session.id).turn(turn.id);
  const bobEvents: SessionEvent[] = [];
  const bobDone = (async () => {
    for await (const event of bobTurn) bobEvents.push(event);
  })();
  const reply = await bobTurn.cancel();
  out.line(`  bob   ✕ turn.cancel() → ${JSON.stringify(reply)}`);
  out.check(reply.cancelled === true, "bob's cancel was accepted", `bob's cancel answered ${JSON.stringify(reply)}`);

  const [aliceEnd, bobEnd] = await Promise.all([turn.result, bobTurn.result]);
  await Promise.all([aliceDone, bobDone]);
  for (const [who, end] of [['alice', aliceEnd], ['bob', bobEnd]] as const) {
    out.check(
      end.type === 'turn.canceled' && end.canceledBy === 'bob',
      `${who} saw turn.canceled (canceledBy: ${end.type === 'turn.canceled' ? end.canceledBy : '?'})`,
      `${who} saw ${JSON.stringify(end)}`,
    );
  }
  const terminals = (events: SessionEvent[]) => events.filter((e) => isTerminal(e)).length;
  out.check(
    terminals(aliceEvents) === 1 && terminals(bobEvents) === 1,
    'each of them saw exactly one terminal event',
    `terminal events seen: alice ${terminals(aliceEvents)}, bob ${terminals(bobEvents)}`,
  );
  const late = await turn.cancel();
  out.line(`  alice ✕ turn.cancel() afterwards → ${JSON.stringify(late)}`);
  out.check(
    late.cancelled === false && late.reason === 'already_finished',
    'a cancel that lost the race is an answer, not an error',
    `a late cancel answered ${JSON.stringify(late)}`,
  );
  out.check(
    errors.length === 0,
    'neither client saw an error',
    `errors: ${errors.map((e) => `${e.client}: ${describeValue(e.error)}`).join('; ')}`,
  );
}

/** Step 3 (F2 + F8): the turn runs on while the client is cut off; it resumes from its cursor. */
export async function cutMidTurn(context: DemoContext): Promise<void> {
  const { out, session, alice, proxy } = context;
  const turn = await session.prompt(`Count to ${COUNT}`);
  out.line(`  alice › Count to ${COUNT}`);
  out.startStream('  agent ‹ ');
  context.showStates = true;
  let leftOpen = false;
  const offState = alice.on('state', (state) => {
    if (state.status !== 'open') leftOpen = true;
  });
  let text = '';
  let deltas = 0;
  for await (const event of turn) {
    if (event.type !== 'turn.delta') continue;
    text += event.text;
    out.inline(event.text);
    if (++deltas === CUT_AFTER) {
      proxy.reset();
      out.line(`  ✂ proxy: every connection reset after ${CUT_AFTER} of ${COUNT} numbers`);
    }
  }
  out.endStream();
  const end = await turn.result;
  context.showStates = false;
  offState();
  out.check(leftOpen, 'the client noticed the cut and reconnected', 'the client never left the open state: the cut did not happen');
  out.check(
    end.type === 'turn.completed',
    'the turn still completed (a cut connection does not end a turn)',
    `expected turn.completed, got ${JSON.stringify(end)}`,
  );
  out.check(
    text === outputOf(end) && text === countTo(COUNT),
    `nothing lost, nothing repeated: the ${COUNT} numbers streamed equal turn.completed.output`,
    `streamed ${JSON.stringify(text)}, server output ${JSON.stringify(outputOf(end))}`,
  );
}

/** Step 4 (F8): the ladder moves down when WebSocket never opens, and the session carries on. */
export async function fallBackToSse(context: DemoContext): Promise<void> {
  const { out, session, alice, proxy } = context;
  out.line(`  alice is connected over ${alice.state.status === 'open' ? alice.state.transport : alice.state.status}`);
  context.showStates = true;
  proxy.refuseWebSocket(true);
  proxy.reset();
  out.line('  ✂ proxy: WebSocket upgrades refused, every connection reset');
  const withoutWebSocket = (s: Client['state']) => s.status === 'open' && s.transport !== 'websocket';
  await until(alice, withoutWebSocket, 10_000, 'alice to reopen without WebSocket');
  context.showStates = false;
  const turn = await session.prompt('Say hello again');
  out.line(`  alice › Say hello again   (same session, ${session.id.slice(0, 8)}…)`);
  const { text, end } = await stream(out, turn);
  const transport = alice.state.status === 'open' ? alice.state.transport : alice.state.status;
  out.check(transport === 'sse', 'client.state.transport is "sse"', `client.state is ${JSON.stringify(alice.state)}`);
  out.check(
    end.type === 'turn.completed' && text === outputOf(end) && turn.sessionId === session.id,
    'the same session streamed a whole turn over SSE',
    `got ${JSON.stringify(end)} after streaming ${JSON.stringify(text)}`,
  );
}

/** Step 5 (F7): close() settles everything and leaves nothing open. */
export async function cleanClose(context: DemoContext): Promise<void> {
  const { out, session, seen, alice, bob, server, proxy } = context;
  const lastSeq = (await session.snapshot()).session.seq;
  await untilTrue(() => seqOf(seen.at(-1)) >= lastSeq, 5_000, "alice's subscription to catch up");
  const seqs = seen.map(seqOf);
  out.check(
    seqs.length === lastSeq && seqs.every((seq, i) => seq === i + 1),
    `alice's subscription saw every event exactly once, in order: seq 1…${lastSeq}, across the cut and the switch to SSE`,
    `subscription seqs ${JSON.stringify(seqs)} (server is at ${lastSeq}); types: ${seen.map((e) => e.type).join(',')}`,
  );
  context.subscription.close();
  await context.watching;
  await Promise.all([alice.close(), bob.close()]);
  out.check(
    alice.state.status === 'closed' && bob.state.status === 'closed',
    'both clients closed (client.state.status is "closed")',
    `client states after close: alice ${alice.state.status}, bob ${bob.state.status}`,
  );
  await server.close();
  await proxy.close();
  context.cleanups.length = 0;
  out.ok('server and proxy closed');
  const leftover = await untilTrue(() => countSockets() <= context.baselineSockets, 2_000, '').then(
    () => 0,
    () => countSockets() - context.baselineSockets,
  );
  out.check(leftover === 0, 'no sockets left open', `${leftover} socket(s) still open after every close`);
}

/** The steps, in order. */
export const DEMO_STEPS: readonly DemoStep[] = [
  { title: 'A streamed turn', run: streamedTurn },
  { title: "Bob cancels Alice's turn", run: cancelFromAnotherClient },
  { title: 'The agent asks for an approval; Bob answers first', run: approvalAnswered },
  { title: 'The connection is cut mid-turn', run: cutMidTurn },
  { title: 'WebSocket is blocked: the session continues over SSE', run: fallBackToSse },
  { title: 'A clean close', run: cleanClose },
];
