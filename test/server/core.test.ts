import { describe, expect, it } from 'vitest';
import { createCore, memoryStore, REDACTED_AGENT_MESSAGE, SessionLog, type TetherCore } from '../../src/server.js';
import { utf8Length } from '../../src/server/core/session-log.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import { SessionEvent as SessionEventSchema } from '../../src/protocol/index.js';
import { onTeardown, scriptedAgent, silentLogger, until } from './helpers.js';
import { manualClock } from '../support/manual-clock.js';

async function core(options: Partial<Parameters<typeof createCore>[0]> & Pick<Parameters<typeof createCore>[0], 'agent'>) {
  const instance = createCore({ logger: silentLogger, ...options });
  onTeardown(() => instance.shutdown());
  await instance.start();
  return instance;
}

/** All events of a session, read through the public cursor primitive. */
async function events(c: TetherCore, sessionId: string, after = 0): Promise<SessionEvent[]> {
  return (await c.cursor(sessionId, { after }))!.take({ maxEvents: 1_000_000 }).entries.map((e) => e.event);
}

const terminalOf = (list: SessionEvent[], turnId: string) =>
  list.filter((e) => e.turnId === turnId && ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type));


describe('TetherCore (no sockets)', () => {
  it('runs a turn: queued, started, deltas, items, completed with the concatenated output; seq 1,2,3… and schema-valid', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession({ metadata: { project: 'x' } });
    const { turn, created } = await c.prompt(id, { prompt: 'hi', clientId: 'alice' });
    expect(created).toBe(true);
    expect(turn.status).toBe('running'); // an idle session starts the turn at once
    const run = await script.next();
    expect(run.input).toMatchObject({ prompt: 'hi', sessionId: id, turnId: turn.id, clientId: 'alice' });
    run.delta('Hel');
    run.item({ kind: 'tool', name: 'grep' });
    run.delta('lo');
    run.end();
    const list = await until(c, id, (l) => terminalOf(l, turn.id).length > 0);
    expect(list.map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.delta', 'turn.item', 'turn.delta', 'turn.completed']);
    expect(list.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const event of list) expect(SessionEventSchema.safeParse(event).success).toBe(true);
    expect(list.at(-1)).toMatchObject({ type: 'turn.completed', output: 'Hello' });
    expect(await c.getTurn(id, turn.id)).toMatchObject({ status: 'completed', terminal: { type: 'turn.completed' } });
    expect((await c.snapshot(id))!.session).toMatchObject({ seq: 6, firstSeq: 1, activeTurnId: null, metadata: { project: 'x' } });
  });

  it('queues prompts per session in order: one running turn at a time', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    const a = (await c.prompt(id, { prompt: 'a' })).turn;
    const b = (await c.prompt(id, { prompt: 'b' })).turn;
    const runA = await script.next();
    expect(runA.input.turnId).toBe(a.id);
    expect(await c.getSession(id)).toMatchObject({ activeTurnId: a.id, queuedTurnIds: [b.id] });
    expect(script.runs).toHaveLength(1);
    runA.end();
    const runB = await script.next();
    expect(runB.input.turnId).toBe(b.id);
    runB.end();
    await until(c, id, (l) => terminalOf(l, b.id).length > 0);
  });

  it('an idempotency key returns the same turn and creates nothing', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    const first = await c.prompt(id, { prompt: 'x', idempotencyKey: 'k1' });
    const again = await c.prompt(id, { prompt: 'x', idempotencyKey: 'k1' });
    expect(again.created).toBe(false);
    expect(again.turn.id).toBe(first.turn.id);
    await until(c, id, (l) => l.some((e) => e.type === 'turn.started'));
    expect((await events(c, id)).filter((e) => e.type === 'turn.queued')).toHaveLength(1);
  });

  // F1 (DESIGN.md §1): cancel is a normal end, never a 5xx.
  it('F1: two concurrent cancels of one turn: one wins, the other gets already_finished; one turn.canceled', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'x' });
    const run = await script.next();
    run.delta('partial');
    const [first, second] = await Promise.all([c.cancel(id, turn.id, { clientId: 'alice', reason: 'stop' }), c.cancel(id, turn.id, { clientId: 'bob' })]);
    expect(first).toEqual({ cancelled: true });
    expect(second).toEqual({ cancelled: false, reason: 'already_finished' });
    expect(run.input.signal.aborted).toBe(true);
    await run.finished;
    const list = (await events(c, id));
    expect(terminalOf(list, turn.id)).toEqual([expect.objectContaining({ type: 'turn.canceled', canceledBy: 'alice', reason: 'stop' })]);
  });

  // F1 (DESIGN.md §1): cancel is a normal end, never a 5xx.
  it('F1: a cancel racing completion gets whichever happened first, and there is exactly one terminal', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    // Completion first: the agent ends, and the cancel arrives before the runner even saw it.
    const t1 = (await c.prompt(id, { prompt: '1' })).turn;
    const r1 = await script.next();
    r1.end();
    const racing = c.cancel(id, t1.id, { clientId: 'bob' });
    await until(c, id, (l) => terminalOf(l, t1.id).length > 0);
    expect(await racing).toEqual({ cancelled: true }); // the cancel was first: the turn had not ended yet
    expect(await c.cancel(id, t1.id)).toEqual({ cancelled: false, reason: 'already_finished' });
    // Cancel after completion was appended: already_finished.
    const t2 = (await c.prompt(id, { prompt: '2' })).turn;
    const r2 = await script.next();
    r2.end();
    await until(c, id, (l) => terminalOf(l, t2.id).length > 0);
    expect(await c.cancel(id, t2.id)).toEqual({ cancelled: false, reason: 'already_finished' });
    const list = (await events(c, id));
    expect(terminalOf(list, t1.id)).toHaveLength(1);
    expect(terminalOf(list, t2.id)).toEqual([expect.objectContaining({ type: 'turn.completed' })]);
  });

  // F3 (DESIGN.md §1): cancel is owner-aware (names its turn).
  it('F3: cancel of an old turn while a newer one runs leaves the newer one untouched', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    const old = (await c.prompt(id, { prompt: 'old' })).turn;
    (await script.next()).end();
    await until(c, id, (l) => terminalOf(l, old.id).length > 0);
    const newer = (await c.prompt(id, { prompt: 'new' })).turn;
    const run = await script.next();
    expect(await c.cancel(id, old.id, { clientId: 'late' })).toEqual({ cancelled: false, reason: 'already_finished' });
    expect(run.input.signal.aborted).toBe(false);
    run.delta('still here');
    run.end();
    const list = await until(c, id, (l) => terminalOf(l, newer.id).length > 0);
    expect(terminalOf(list, newer.id)).toEqual([expect.objectContaining({ type: 'turn.completed', output: 'still here' })]);
  });

  it('cancel of a queued turn ends it at once without starting it; unknown turn is undefined, unknown session session_not_found', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    await c.prompt(id, { prompt: 'a' });
    const b = (await c.prompt(id, { prompt: 'b' })).turn;
    const runA = await script.next();
    expect(await c.cancel(id, b.id, { clientId: 'z' })).toEqual({ cancelled: true });
    expect(await (await c.getSession(id))!.queuedTurnIds).toEqual([]);
    runA.end();
    await until(c, id, (l) => l.some((e) => e.type === 'turn.completed'));
    const bEvents = (await events(c, id)).filter((e) => e.turnId === b.id).map((e) => e.type);
    expect(bEvents).toEqual(['turn.queued', 'turn.canceled']);
    expect(script.runs).toHaveLength(1);
    expect(await c.cancel(id, 'nope')).toBeUndefined();
    await expect(c.cancel('nope', b.id)).rejects.toMatchObject({ code: 'session_not_found', status: 404 });
  });

  it('an agent ignoring its signal holds the next turn until cancelGraceMs; its later yields are ignored', async () => {
    const script = scriptedAgent();
    const clock = manualClock();
    const c = await core({ agent: script.agent, clock, cancelGraceMs: 1000 });
    const { id } = await c.createSession();
    const a = (await c.prompt(id, { prompt: 'a' })).turn;
    const b = (await c.prompt(id, { prompt: 'b' })).turn;
    const runA = await script.next();
    runA.ignoreSignal = true; // stuck in an await, deaf to the abort
    expect(await c.cancel(id, a.id, { clientId: 'x' })).toEqual({ cancelled: true });
    await until(c, id, (l) => l.some((e) => e.type === 'turn.canceled'));
    // Within the grace period b waits, so two agents never run at once for one session.
    expect(script.runs).toHaveLength(1);
    expect(await (await c.getSession(id))!.activeTurnId).toBeNull();
    clock.advance(999);
    expect(script.runs).toHaveLength(1);
    clock.advance(1);
    const runB = await script.next();
    expect(runB.input.turnId).toBe(b.id);
    runA.delta('ignored'); // the deaf agent wakes up late: dropped, and it is returned
    await runA.finished;
    runB.end();
    const list = await until(c, id, (l) => terminalOf(l, b.id).length > 0);
    expect(list.filter((e) => e.turnId === a.id).map((e) => e.type)).toEqual(['turn.queued', 'turn.started', 'turn.canceled']);
  });

  it('a canceled agent that yields again is stopped (return()) and releases the next turn without waiting for the grace period', async () => {
    const script = scriptedAgent();
    const clock = manualClock();
    const c = await core({ agent: script.agent, clock, cancelGraceMs: 60_000 });
    const { id } = await c.createSession();
    const a = (await c.prompt(id, { prompt: 'a' })).turn;
    await c.prompt(id, { prompt: 'b' });
    const runA = await script.next();
    runA.ignoreSignal = true;
    await c.cancel(id, a.id);
    runA.delta('late');
    await runA.finished;
    const runB = await script.next();
    expect(runB.input.prompt).toBe('b');
    runB.end();
    const list = await until(c, id, (l) => l.filter((e) => e.type === 'turn.completed').length === 1);
    expect(list.some((e) => e.type === 'turn.delta')).toBe(false);
  });

  it('an agent that stops on its signal releases the next turn at once (no grace wait)', async () => {
    const script = scriptedAgent();
    const clock = manualClock();
    const c = await core({ agent: script.agent, clock, cancelGraceMs: 60_000 });
    const { id } = await c.createSession();
    const a = (await c.prompt(id, { prompt: 'a' })).turn;
    await c.prompt(id, { prompt: 'b' });
    await script.next();
    await c.cancel(id, a.id);
    const runB = await script.next();
    expect(runB.input.prompt).toBe('b');
    runB.end();
  });

  it('a throwing agent ends the turn with agent_error; an invalid chunk too; the session keeps working', async () => {
    const c = await core({
      agent: async function* ({ prompt }) {
        if (prompt === 'throw') throw new Error('boom');
        if (prompt === 'bad') yield { type: 'nope' } as never;
        if (prompt === 'sync-throw') throw new Error('never iterated');
        yield { type: 'delta', text: 'ok' };
      },
    });
    const { id } = await c.createSession();
    const t1 = (await c.prompt(id, { prompt: 'throw' })).turn;
    const t2 = (await c.prompt(id, { prompt: 'bad' })).turn;
    const t3 = (await c.prompt(id, { prompt: 'fine' })).turn;
    const list = await until(c, id, (l) => terminalOf(l, t3.id).length > 0);
    expect(terminalOf(list, t1.id)[0]).toMatchObject({ type: 'turn.error', error: { code: 'agent_error', message: REDACTED_AGENT_MESSAGE, retryable: false } });
    expect(terminalOf(list, t2.id)[0]).toMatchObject({ type: 'turn.error', error: { code: 'agent_error' } });
    expect(terminalOf(list, t3.id)[0]).toMatchObject({ type: 'turn.completed', output: 'ok' });
  });

  it('an agent that is not a function of an iterable, or throws synchronously, is an agent_error', async () => {
    const c = await core({
      agent: (({ prompt }: { prompt: string }) => {
        if (prompt === 'sync') throw new Error('sync boom');
        return 42;
      }) as never,
    });
    const { id } = await c.createSession();
    const t1 = (await c.prompt(id, { prompt: 'sync' })).turn;
    const t2 = (await c.prompt(id, { prompt: 'num' })).turn;
    const list = await until(c, id, (l) => terminalOf(l, t2.id).length > 0);
    expect(terminalOf(list, t1.id)[0]).toMatchObject({ error: { code: 'agent_error', message: REDACTED_AGENT_MESSAGE } });
    expect(terminalOf(list, t2.id)[0]).toMatchObject({ error: { code: 'agent_error' } });
  });

  it('retention: a cursor older than the oldest held event gets a history_gone reset; another epoch gets epoch_changed', async () => {
    const c = await core({
      agent: async function* () {
        for (let i = 0; i < 20; i++) yield { type: 'delta', text: String(i % 10) };
      },
      maxEventsPerSession: 5,
    });
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'x' });
    const cursor = (await c.cursor(id, { after: 0 }))!;
    await until(c, id, (l) => terminalOf(l, turn.id).length > 0);
    const info = (await c.getSession(id))!;
    expect(info.seq).toBe(23);
    expect(info.firstSeq).toBe(19);
    const batch = cursor.take({ maxEvents: 100 });
    expect(batch.reset).toEqual({ sessionId: id, epoch: info.epoch, after: 18, reason: 'history_gone' });
    expect(batch.entries.map((e) => e.event.seq)).toEqual([19, 20, 21, 22, 23]);
    const other = (await c.cursor(id, { after: 23, epoch: 'old-epoch' }))!.take({ maxEvents: 100 });
    expect(other.reset).toMatchObject({ reason: 'epoch_changed', after: 18 });
    const beyond = (await c.cursor(id, { after: 99 }))!.take({ maxEvents: 100 });
    expect(beyond.reset).toMatchObject({ reason: 'history_gone', after: 18 });
    const exact = (await c.cursor(id, { after: 20, epoch: info.epoch }))!.take({ maxEvents: 100 });
    expect(exact.reset).toBeUndefined();
    expect(exact.entries.map((e) => e.event.seq)).toEqual([21, 22, 23]);
  });

  it('poll answers at once with events, waits for new ones, and answers empty after waitMs', async () => {
    const script = scriptedAgent();
    const c = await core({ agent: script.agent });
    const { id } = await c.createSession();
    const empty = await c.poll(id, { after: 0, waitMs: 20 });
    expect(empty).toMatchObject({ events: [], next: 0 });
    const waiting = c.poll(id, { after: 0, waitMs: 10_000 });
    await c.prompt(id, { prompt: 'x' });
    const reply = await waiting;
    expect(reply.events[0]).toMatchObject({ type: 'turn.queued', seq: 1 });
    expect(reply.next).toBe(reply.events.at(-1)!.seq);
    (await script.next()).end();
  });

  it('the same memoryStore instance in a new core keeps history: same epoch, seq continues, idempotency keys remembered', async () => {
    const store = memoryStore();
    const script = scriptedAgent();
    const first = createCore({ agent: script.agent, store, logger: silentLogger });
    await first.start();
    const { id, epoch } = await first.createSession();
    const { turn } = await first.prompt(id, { prompt: 'x', idempotencyKey: 'k' });
    (await script.next()).end();
    await until(first, id, (l) => terminalOf(l, turn.id).length > 0);
    await first.shutdown();
    const second = await core({ agent: script.agent, store });
    expect(await second.getSession(id)).toMatchObject({ epoch, seq: 3 });
    expect(await second.prompt(id, { prompt: 'x', idempotencyKey: 'k' })).toMatchObject({ created: false, turn: { id: turn.id } });
    const next = (await second.prompt(id, { prompt: 'y' })).turn;
    expect(next.queuedSeq).toBe(4);
    (await script.next()).end();
    await until(second, id, (l) => terminalOf(l, next.id).length > 0);
  });

  it('shutdown ends queued and running turns with shutting_down and refuses new prompts with 503', async () => {
    const script = scriptedAgent();
    const c = createCore({ agent: script.agent, logger: silentLogger });
    await c.start();
    const { id } = await c.createSession();
    const a = (await c.prompt(id, { prompt: 'a' })).turn;
    const b = (await c.prompt(id, { prompt: 'b' })).turn;
    const run = await script.next();
    await c.shutdown();
    expect(run.input.signal.aborted).toBe(true);
    const list = (await events(c, id));
    for (const turnId of [a.id, b.id]) {
      expect(terminalOf(list, turnId)).toEqual([expect.objectContaining({ type: 'turn.error', error: expect.objectContaining({ code: 'shutting_down', retryable: true }) })]);
    }
    await expect(c.prompt(id, { prompt: 'c' })).rejects.toMatchObject({ code: 'shutting_down', status: 503 });
  });
});

describe('small things users see', () => {
  it('an invalid chunk names the valid chunk shapes', async () => {
    const c = await core({
      agent: async function* () {
        yield { delta: 'echo hi' } as never;
      },
    });
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'x' });
    const list = await until(c, id, (l) => terminalOf(l, turn.id).length > 0);
    expect((terminalOf(list, turn.id)[0] as { error: { message: string } }).error.message).toBe(
      `The agent yielded an invalid chunk; expected { type: 'delta', text: string } or { type: 'item', item: object }`,
    );
  });

  it('one info line per turn end: sessionId, turnId, status, ms', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const c = await core({
      agent: async function* () {
        yield { type: 'delta', text: 'a' } as const;
        yield { type: 'delta', text: 'b' } as const;
      },
      logger: { info: (fields, message) => lines.push({ fields, message }) },
    });
    const { id } = await c.createSession();
    const { turn } = await c.prompt(id, { prompt: 'x' });
    await until(c, id, (l) => terminalOf(l, turn.id).length > 0);
    expect(lines).toEqual([
      { message: 'agent-tether: turn ended', fields: { sessionId: id, turnId: turn.id, status: 'completed', ms: expect.any(Number) } },
    ]);
  });

  it('the byte cap of a read counts UTF-8 bytes, not UTF-16 code units', () => {
    const log = new SessionLog({ sessionId: 's', epoch: 'e', maxEvents: 100 });
    const text = '€'.repeat(100); // 100 code units, 300 bytes
    for (let i = 0; i < 4; i++) log.append({ type: 'turn.delta', turnId: 't', text }, 0);
    log.publish(4);
    const one = log.read(0, undefined, { maxEvents: 100 }).entries[0]!;
    expect(one.bytes).toBe(new TextEncoder().encode(one.json).length);
    // Two events fit 2 × bytes but not 2 × bytes − 1, whatever their UTF-16 length says.
    expect(log.read(0, undefined, { maxEvents: 100, maxBytes: one.bytes * 2 }).entries).toHaveLength(2);
    expect(log.read(0, undefined, { maxEvents: 100, maxBytes: one.bytes * 2 - 1 }).entries).toHaveLength(1);
    expect(one.json.length * 2).toBeLessThan(one.bytes * 2 - 1); // the old count would have let 2 through
    expect(utf8Length('a€😀')).toBe(1 + 3 + 4);
  });
});
