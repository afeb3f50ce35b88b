/** Input requests and agent state in the core: ask, first answer wins, cancel settles, policy answers, state and history persist. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCore, fileStore, memoryStore, ServerError, type Agent, type InputResolution, type SessionStore, type TetherCore } from '../../src/server.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import { onTeardown, silentLogger } from './helpers.js';

async function core(agent: Agent, options: Partial<Parameters<typeof createCore>[0]> = {}): Promise<TetherCore> {
  const instance = createCore({ logger: silentLogger, agent, ...options });
  onTeardown(() => instance.shutdown());
  await instance.start();
  return instance;
}

async function until(c: TetherCore, sessionId: string, predicate: (events: SessionEvent[]) => boolean): Promise<SessionEvent[]> {
  const cursor = (await c.cursor(sessionId, { after: 0 }))!;
  const seen: SessionEvent[] = [];
  for (;;) {
    seen.push(...cursor.take({ maxEvents: 1000 }).entries.map((e) => e.event));
    if (predicate(seen)) return seen;
    await cursor.wait();
  }
}
const ofType = (events: SessionEvent[], type: string) => events.filter((e) => e.type === type) as Array<SessionEvent & Record<string, unknown>>;

const APPROVAL = {
  kind: 'approval',
  prompt: 'Run `ls`?',
  options: [
    { id: 'approve', label: 'Approve' },
    { id: 'deny', label: 'Deny' },
  ],
  details: { command: 'ls' },
};

/** An agent that asks once and reports what it got as its output. */
function askingAgent(resolutions: InputResolution[]): Agent {
  return async function* (input) {
    const resolution = await input.requestInput(APPROVAL);
    resolutions.push(resolution);
    yield { type: 'delta', text: resolution.status === 'answered' ? `got ${resolution.answer.option}` : 'unanswered' };
  };
}

describe('input requests (core)', () => {
  it('the first answer wins, is an event with who answered, and reaches the agent; later answers are refused', async () => {
    const got: InputResolution[] = [];
    const c = await core(askingAgent(got));
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'go' });
    const requested = ofType(await until(c, id, (e) => e.some((x) => x.type === 'turn.input_requested')), 'turn.input_requested')[0]!;
    expect(requested).toMatchObject({ turnId: turn.id, request: APPROVAL });
    const requestId = requested.requestId as string;

    const [first, second] = await Promise.all([
      c.respond(id, turn.id, requestId, { option: 'approve' }, { clientId: 'alice' }),
      c.respond(id, turn.id, requestId, { option: 'deny' }, { clientId: 'bob' }),
    ]);
    expect(first).toEqual({ accepted: true });
    expect(second).toEqual({ accepted: false, reason: 'already_answered' });
    // The winner's resend (a lost reply) is accepted again; nobody else's.
    expect(await c.respond(id, turn.id, requestId, { option: 'approve' }, { clientId: 'alice' })).toEqual({ accepted: true });
    expect(await c.respond(id, turn.id, requestId, { option: 'approve' }, { clientId: 'bob' })).toEqual({ accepted: false, reason: 'already_answered' });

    const events = await until(c, id, (e) => e.some((x) => x.type === 'turn.completed'));
    const answered = ofType(events, 'turn.input_answered');
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatchObject({ requestId, answer: { option: 'approve' }, answeredBy: 'alice', source: 'client' });
    expect(answered[0]!.seq).toBe(requested.seq + 1);
    expect(got).toEqual([{ status: 'answered', answer: { option: 'approve' }, answeredBy: 'alice', source: 'client' }]);
    expect(ofType(events, 'turn.completed')[0]).toMatchObject({ output: 'got approve' });
  });

  it('unknown turn → undefined, unknown request → 404 not_found, an answer outside the options → 400 invalid_answer', async () => {
    const c = await core(askingAgent([]));
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'go' });
    const requestId = ofType(await until(c, id, (e) => e.some((x) => x.type === 'turn.input_requested')), 'turn.input_requested')[0]!.requestId as string;
    expect(await c.respond(id, 'nope', requestId, { option: 'approve' })).toBeUndefined();
    await expect(c.respond(id, turn.id, 'nope', { option: 'approve' })).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(c.respond(id, turn.id, requestId, { option: 'maybe' })).rejects.toBeInstanceOf(ServerError);
    await expect(c.respond(id, turn.id, requestId, { option: 'maybe' })).rejects.toMatchObject({ code: 'invalid_answer', status: 400 });
    await expect(c.respond(id, turn.id, requestId, {})).rejects.toMatchObject({ code: 'invalid_answer' });
    await expect(c.respond('nope', turn.id, requestId, { option: 'approve' })).rejects.toMatchObject({ code: 'session_not_found' });
    // Still pending after the refusals.
    expect(await c.respond(id, turn.id, requestId, { option: 'deny' })).toEqual({ accepted: true });
  });

  it('a cancel settles the pending request at once (unanswered); a later answer gets turn_ended', async () => {
    const got: InputResolution[] = [];
    const c = await core(askingAgent(got));
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'go' });
    const requestId = ofType(await until(c, id, (e) => e.some((x) => x.type === 'turn.input_requested')), 'turn.input_requested')[0]!.requestId as string;
    expect(await c.cancel(id, turn.id, { clientId: 'carol' })).toEqual({ cancelled: true });
    await expect.poll(() => got).toEqual([{ status: 'unanswered', reason: 'turn_ended' }]);
    expect(await c.respond(id, turn.id, requestId, { option: 'approve' }, { clientId: 'alice' })).toEqual({ accepted: false, reason: 'turn_ended' });
    const events = await until(c, id, (e) => e.some((x) => x.type === 'turn.canceled'));
    expect(ofType(events, 'turn.input_answered')).toHaveLength(0);
  });

  it('the input policy answers without a client, recorded as answeredBy policy; undefined leaves it to clients', async () => {
    const got: InputResolution[] = [];
    const asked: string[] = [];
    const c = await core(
      async function* (input) {
        for (const command of ['ls', 'rm -rf /']) {
          const r = await input.requestInput({ ...APPROVAL, details: { command } });
          got.push(r);
        }
        yield { type: 'delta', text: 'done' };
      },
      {
        inputPolicy: ({ request }) => {
          asked.push(String(request.details?.command));
          return request.details?.command === 'ls' ? { option: 'approve' } : undefined;
        },
      },
    );
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'go' });
    const events = await until(c, id, (e) => ofType(e, 'turn.input_requested').length === 2);
    expect(ofType(events, 'turn.input_answered')[0]).toMatchObject({ answeredBy: 'policy', source: 'policy', answer: { option: 'approve' } });
    const second = ofType(events, 'turn.input_requested')[1]!;
    expect(await c.respond(id, turn.id, second.requestId as string, { option: 'deny' }, { clientId: 'alice' })).toEqual({ accepted: true });
    await until(c, id, (e) => e.some((x) => x.type === 'turn.completed'));
    expect(asked).toEqual(['ls', 'rm -rf /']);
    expect(got.map((r) => (r.status === 'answered' ? `${r.answeredBy}:${r.answer.option}` : r.status))).toEqual(['policy:approve', 'alice:deny']);
  });

  it('a throwing policy is logged and leaves the request to the clients', async () => {
    const warnings: string[] = [];
    const c = await core(askingAgent([]), {
      logger: { warn: (_fields: unknown, message: string) => warnings.push(message) },
      inputPolicy: () => {
        throw new Error('policy bug');
      },
    });
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'go' });
    const requestId = ofType(await until(c, id, (e) => e.some((x) => x.type === 'turn.input_requested')), 'turn.input_requested')[0]!.requestId as string;
    await expect.poll(() => warnings.length).toBe(1);
    expect(await c.respond(id, turn.id, requestId, { option: 'approve' }, { clientId: 'alice' })).toEqual({ accepted: true });
  });

  it('an invalid request is the agent’s error (turn.error), not a crash', async () => {
    const c = await core(async function* (input) {
      await input.requestInput({ prompt: 42 } as never);
      yield { type: 'delta', text: 'never' };
    });
    const { id } = await c.createSession();
    await c.prompt(id, { prompt: 'go' });
    const events = await until(c, id, (e) => e.some((x) => x.type === 'turn.error'));
    expect(ofType(events, 'turn.error')[0]).toMatchObject({ error: { code: 'agent_error' } });
    expect(ofType(events, 'turn.input_requested')).toHaveLength(0);
  });

  it('after a restart, an answered request says already_answered and an unanswered one turn_ended', async () => {
    const store = memoryStore();
    const c1 = createCore({ logger: silentLogger, store, agent: async function* (input) {
      await input.requestInput(APPROVAL);
      await input.requestInput(APPROVAL);
      yield { type: 'delta', text: 'x' };
    } });
    await c1.start();
    const { id } = await c1.createSession();
    const { turn } = await c1.prompt(id, { prompt: 'go' });
    const first = ofType(await until(c1, id, (e) => e.some((x) => x.type === 'turn.input_requested')), 'turn.input_requested')[0]!;
    await c1.respond(id, turn.id, first.requestId as string, { option: 'approve' }, { clientId: 'alice' });
    const second = ofType(await until(c1, id, (e) => ofType(e, 'turn.input_requested').length === 2), 'turn.input_requested')[1]!;
    // A crash: the next core starts from what the store holds.
    const c2 = await core(async function* () {}, { store });
    expect(await c2.respond(id, turn.id, first.requestId as string, { option: 'deny' }, { clientId: 'bob' })).toEqual({ accepted: false, reason: 'already_answered' });
    expect(await c2.respond(id, turn.id, second.requestId as string, { option: 'deny' }, { clientId: 'bob' })).toEqual({ accepted: false, reason: 'turn_ended' });
    await c1.shutdown();
  });
});

describe('agent state and history (core)', () => {
  async function stateSurvivesRestart(makeStore: () => Promise<SessionStore>) {
    const store = await makeStore();
    const seen: unknown[] = [];
    const agent: Agent = async function* (input) {
      seen.push({ state: input.state.get(), history: input.history.map((t) => [t.prompt, t.status, t.output]) });
      const count = Number(input.state.get().count ?? 0) + 1;
      await input.state.set({ ...input.state.get(), count, thread: 'th_1' });
      yield { type: 'delta', text: `turn ${count}` };
    };
    const c1 = createCore({ logger: silentLogger, store, agent });
    await c1.start();
    const { id } = await c1.createSession({ metadata: { title: 'kept' } });
    const { turn } = await c1.prompt(id, { prompt: 'one' });
    await until(c1, id, (e) => e.some((x) => x.type === 'turn.completed' && x.turnId === turn.id));
    await c1.shutdown();

    const c2 = await core(agent, { store: await makeStore() });
    const { turn: turn2 } = await c2.prompt(id, { prompt: 'two' });
    await until(c2, id, (e) => e.some((x) => x.type === 'turn.completed' && x.turnId === turn2.id));
    expect(seen).toEqual([
      { state: {}, history: [] },
      { state: { count: 1, thread: 'th_1' }, history: [['one', 'completed', 'turn 1']] },
    ]);
    // The record kept its other fields.
    expect((await c2.getSession(id))?.metadata).toEqual({ title: 'kept' });
  }

  it('memoryStore: state set by one turn is there for the next, after a restart; history lists earlier turns', async () => {
    const store = memoryStore();
    await stateSurvivesRestart(async () => store);
  });

  it('fileStore: the same across a new store instance on the same directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-agent-state-'));
    onTeardown(() => rm(dir, { recursive: true, force: true }));
    await stateSurvivesRestart(async () => fileStore({ dir }));
  });

  it('state.set rejects what is not a JSON object', async () => {
    const errors: unknown[] = [];
    const c = await core(async function* (input) {
      for (const bad of [null, [1], 'text', { big: 'x'.repeat(2 * 1024 * 1024) }]) {
        await input.state.set(bad as never).catch((error: unknown) => errors.push(error));
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await input.state.set(cyclic).catch((error: unknown) => errors.push(error));
      yield { type: 'delta', text: 'ok' };
    });
    const { id } = await c.createSession();
    await c.prompt(id, { prompt: 'go' });
    await until(c, id, (e) => e.some((x) => x.type === 'turn.completed'));
    expect(errors).toHaveLength(5);
    for (const error of errors) expect(error).toBeInstanceOf(TypeError);
  });
});
