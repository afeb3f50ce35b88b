/**
 * Input requests end to end, over every transport: every client sees the
 * request on the turn and the session; two clients race and exactly one
 * answer wins; a late attacher and a reconnecting client (through the fault
 * proxy) still see it pending; a cancel settles it; the server's policy
 * answers without a client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { InputResolution } from '../../src/server.js';
import { createFaultProxy, createTestServer, type FaultProxy, type TestServer } from '../../src/testing.js';
import type { SessionEvent, TurnEvent, Turn } from '../../src/index.js';
import { recordingClient, serverErrors, stateReached, type Recorded } from './helpers.js';

let server: TestServer | undefined;
let proxy: FaultProxy | undefined;
const clients: Recorded[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((r) => r.client.close()));
  await proxy?.close();
  await server?.close();
  server = proxy = undefined;
});

const APPROVAL = {
  kind: 'approval',
  prompt: 'Run `make test`?',
  options: [
    { id: 'approve', label: 'Approve' },
    { id: 'deny', label: 'Deny' },
  ],
  details: { command: 'make test' },
};

/** What the agent got from each request. */
let resolutions: InputResolution[] = [];

async function start(options: Parameters<typeof createTestServer>[0] = {}) {
  resolutions = [];
  server = await createTestServer({
    agent: async function* (input) {
      const resolution = await input.requestInput(APPROVAL);
      resolutions.push(resolution);
      yield { type: 'delta', text: resolution.status === 'answered' ? `answer: ${resolution.answer.option}` : 'unanswered' };
    },
    ...options,
  });
  return server;
}

function client(baseUrl: string, transport: 'websocket' | 'sse' | 'poll', clientId: string): Recorded {
  const rec = recordingClient({ baseUrl, transports: [transport], clientId });
  clients.push(rec);
  return rec;
}

/** Iterate a turn in the background; `until` waits for an event matching the predicate. */
function follow(turn: Turn) {
  const seen: TurnEvent[] = [];
  const waiters: Array<() => void> = [];
  const done = (async () => {
    for await (const event of turn) {
      seen.push(event);
      for (const wake of waiters.splice(0)) wake();
    }
  })();
  return {
    seen,
    done,
    async until(predicate: (event: TurnEvent) => boolean): Promise<TurnEvent> {
      for (;;) {
        const found = seen.find(predicate);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

const requested = (e: TurnEvent) => e.type === 'turn.input_requested';

describe.each(['websocket', 'sse', 'poll'] as const)('input requests over %s', (transport) => {
  it('both clients see the request; racing answers: exactly one accepted, the other already_answered; both see who won', async () => {
    const srv = await start();
    const alice = client(srv.url, transport, 'alice');
    const bob = client(srv.url, transport, 'bob');
    const session = await alice.client.createSession();
    const sub = bob.client.session(session.id).subscribe({ after: 0 });
    const turn = await session.prompt('go');
    const bobsTurn = bob.client.session(session.id).turn(turn.id);
    const a = follow(turn);
    const b = follow(bobsTurn);
    const request = (await a.until(requested)) as Extract<TurnEvent, { type: 'turn.input_requested' }>;
    expect(request.request).toEqual(APPROVAL);
    expect((await b.until(requested)).seq).toBe(request.seq);
    expect(turn.pendingInputs.map((r) => r.requestId)).toEqual([request.requestId]);

    const replies = await Promise.all([
      turn.respond(request.requestId, { option: 'approve' }),
      bobsTurn.respond(request.requestId, { option: 'deny' }),
    ]);
    expect(replies.filter((r) => r.accepted)).toHaveLength(1);
    expect(replies.filter((r) => !r.accepted)).toEqual([{ accepted: false, reason: 'already_answered' }]);
    const winner = replies[0]!.accepted ? 'alice' : 'bob';
    const option = winner === 'alice' ? 'approve' : 'deny';

    for (const f of [a, b]) {
      expect(await f.until((e) => e.type === 'turn.input_answered')).toMatchObject({ requestId: request.requestId, answeredBy: winner, source: 'client', answer: { option } });
    }
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: `answer: ${option}` });
    expect(await bobsTurn.result).toMatchObject({ type: 'turn.completed', output: `answer: ${option}` });
    expect(turn.pendingInputs).toEqual([]);
    expect(resolutions).toEqual([{ status: 'answered', answer: { option }, answeredBy: winner, source: 'client' }]);

    // The session iterator carries the same typed events, in order.
    const types: string[] = [];
    for await (const event of sub as AsyncIterable<SessionEvent>) {
      types.push(event.type);
      if (event.type === 'turn.completed') break;
    }
    expect(types).toEqual(['turn.queued', 'turn.started', 'turn.input_requested', 'turn.input_answered', 'turn.delta', 'turn.completed']);
    // Answering again later, or an unknown request: typed answers, not errors.
    expect(await turn.respond(request.requestId, { option: 'deny' })).toEqual({ accepted: false, reason: 'already_answered' });
    expect(await turn.respond('no-such-request', { option: 'deny' })).toEqual({ accepted: false, reason: 'not_found' });
    expect(serverErrors(alice)).toEqual([]);
    expect(serverErrors(bob)).toEqual([]);
  });

  it('a client attaching late sees the request pending and can answer it', async () => {
    const srv = await start();
    const alice = client(srv.url, transport, 'alice');
    const session = await alice.client.createSession();
    const turn = await session.prompt('go');
    const request = (await follow(turn).until(requested)) as Extract<TurnEvent, { type: 'turn.input_requested' }>;

    const late = client(srv.url, transport, 'late');
    const attached = late.client.session(session.id).turn(turn.id);
    const l = follow(attached);
    expect((await l.until(requested)).seq).toBe(request.seq);
    expect(attached.pendingInputs.map((r) => r.requestId)).toEqual([request.requestId]);
    expect(await attached.respond(request.requestId, { option: 'approve' })).toEqual({ accepted: true });
    expect(await attached.result).toMatchObject({ type: 'turn.completed', output: 'answer: approve' });
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'answer: approve' });
  });

  it('connections reset through the fault proxy: the request stays pending, the answer after reconnecting wins', async () => {
    const srv = await start();
    proxy = await createFaultProxy({ target: srv.url }).listen();
    const alice = client(proxy.url, transport, 'alice');
    const session = await alice.client.createSession();
    const turn = await session.prompt('go');
    const f = follow(turn);
    const request = (await f.until(requested)) as Extract<TurnEvent, { type: 'turn.input_requested' }>;
    proxy.reset();
    await stateReached(alice.client, (s) => s.status === 'reconnecting' || s.status === 'connecting');
    await stateReached(alice.client, (s) => s.status === 'open');
    expect(turn.pendingInputs.map((r) => r.requestId)).toEqual([request.requestId]);
    expect(resolutions).toEqual([]);
    // Cut again while the answer is on its way: it is resent and still counted once, as ours.
    const answering = turn.respond(request.requestId, { option: 'approve' });
    proxy.reset();
    expect(await answering).toEqual({ accepted: true });
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'answer: approve' });
    await f.done;
    expect(f.seen.filter((e) => e.type === 'turn.input_requested')).toHaveLength(1);
    expect(f.seen.filter((e) => e.type === 'turn.input_answered')).toHaveLength(1);
    expect(serverErrors(alice)).toEqual([]);
  });

  it('a cancel settles the pending request: the agent gets unanswered, later answers get turn_ended', async () => {
    const srv = await start();
    const alice = client(srv.url, transport, 'alice');
    const bob = client(srv.url, transport, 'bob');
    const session = await alice.client.createSession();
    const turn = await session.prompt('go');
    const request = (await follow(turn).until(requested)) as Extract<TurnEvent, { type: 'turn.input_requested' }>;
    expect(await bob.client.session(session.id).turn(turn.id).cancel()).toEqual({ cancelled: true });
    expect(await turn.result).toMatchObject({ type: 'turn.canceled', canceledBy: 'bob' });
    await expect.poll(() => resolutions).toEqual([{ status: 'unanswered', reason: 'turn_ended' }]);
    expect(turn.pendingInputs).toEqual([]);
    expect(await turn.respond(request.requestId, { option: 'approve' })).toEqual({ accepted: false, reason: 'turn_ended' });
  });

  it('the server policy answers without a client; clients see it answered by policy', async () => {
    const srv = await start({ inputPolicy: ({ request }) => (request.details?.command === 'make test' ? { option: 'approve' } : undefined) });
    const alice = client(srv.url, transport, 'alice');
    const session = await alice.client.createSession();
    const turn = await session.prompt('go');
    const f = follow(turn);
    expect(await turn.result).toMatchObject({ type: 'turn.completed', output: 'answer: approve' });
    await f.done;
    expect(f.seen.find((e) => e.type === 'turn.input_answered')).toMatchObject({ answeredBy: 'policy', source: 'policy' });
    expect(resolutions).toEqual([{ status: 'answered', answer: { option: 'approve' }, answeredBy: 'policy', source: 'policy' }]);
  });
});
