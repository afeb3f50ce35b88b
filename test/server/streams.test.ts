import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/server.js';
import { PollReply, ServerFrame } from '../../src/protocol/index.js';
import { api, createSession, deltaText, eventually, prompt, scriptedAgent, SseReader, startServer, WsClient } from './helpers.js';

/** Run one turn with the given deltas to completion; returns its id. */
async function runTurn(url: string, sid: string, script: ReturnType<typeof scriptedAgent>, deltas: string[]): Promise<string> {
  const turnId = (await prompt(url, sid, 'p')).body.turn.id as string;
  const run = await script.next();
  for (const text of deltas) run.delta(text);
  run.end();
  await run.finished;
  return turnId;
}

describe('SSE', () => {
  it('starts with retry:, gives every event id: = seq, and resumes with Last-Event-ID (over after) and after', async () => {
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent, sseRetryMs: 1234 });
    const sid = await createSession(url);
    const turnId = await runTurn(url, sid, script, ['a', 'b', 'c']);
    const full = new SseReader(`${url}/v1/sessions/${sid}/events`);
    await full.until(() => full.terminal(turnId) !== undefined, 'terminal');
    expect(full.retry).toBe(1234);
    expect(full.ids).toEqual([1, 2, 3, 4, 5, 6]);
    expect(full.events.map((e) => e.seq)).toEqual(full.ids);
    expect(full.response?.headers['content-type']).toMatch(/^text\/event-stream/);

    const byAfter = new SseReader(`${url}/v1/sessions/${sid}/events?after=4`);
    await byAfter.until(() => byAfter.events.length === 2, 'two events');
    expect(byAfter.ids).toEqual([5, 6]);

    const byHeader = new SseReader(`${url}/v1/sessions/${sid}/events?after=1`, { 'last-event-id': '5' });
    await byHeader.until(() => byHeader.events.length === 1, 'one event');
    expect(byHeader.ids).toEqual([6]);
    expect(byHeader.resets).toEqual([]);

    // live after catch-up
    const epoch = (await server.core.getSession(sid))!.epoch;
    const live = new SseReader(`${url}/v1/sessions/${sid}/events?after=6&epoch=${epoch}`);
    await live.until(() => live.status === 200, 'connected');
    const second = await runTurn(url, sid, script, ['live']);
    await live.until(() => live.terminal(second) !== undefined, 'live terminal');
    expect(live.ids).toEqual([7, 8, 9, 10]);
    expect(deltaText(live.events)).toBe('live');
  });

  it('events of 16 KiB and more (sent as one shared pre-encoded frame) arrive whole and in order between small ones, on every stream', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const readers = [1, 2, 3].map(() => new SseReader(`${url}/v1/sessions/${sid}/events`));
    const big = 'é'.repeat(20_000); // 40 KB of UTF-8: the frame must be cut by bytes, not characters
    const turnId = await runTurn(url, sid, script, ['a', big, 'b', big]);
    for (const reader of readers) {
      await reader.until(() => reader.terminal(turnId) !== undefined, 'terminal');
      expect(reader.ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(deltaText(reader.events)).toBe(`a${big}b${big}`);
      reader.close();
    }
  });

  it('writes `: ping` heartbeats every heartbeatMs', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent, heartbeatMs: 20 });
    const sid = await createSession(url);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    await sse.until(() => sse.pings >= 2, 'two pings');
    expect(sse.pings).toBeGreaterThanOrEqual(2);
  });

  it('sends event: reset on an unknown epoch, then the events from the oldest held', async () => {
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const turnId = await runTurn(url, sid, script, ['x']);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events?after=3&epoch=gone-epoch`);
    await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
    expect(sse.resets).toEqual([{ sessionId: sid, epoch: (await server.core.getSession(sid))!.epoch, after: 0, reason: 'epoch_changed' }]);
    expect(sse.ids).toEqual([1, 2, 3, 4]);
  });

  it('sends event: reset history_gone when the cursor is older than the trimmed history', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, maxEventsPerSession: 4 });
    const sid = await createSession(url);
    const turnId = await runTurn(url, sid, script, ['1', '2', '3', '4', '5']); // seq 1..8, holds 5..8
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events?after=2`);
    await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
    expect(sse.resets).toMatchObject([{ after: 4, reason: 'history_gone' }]);
    expect(sse.ids).toEqual([5, 6, 7, 8]);
  });

  it('unknown session is a 404 JSON error, not a stream', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const reply = await api(url, 'GET', '/v1/sessions/nope/events');
    expect(reply).toMatchObject({ status: 404, body: { error: { code: 'session_not_found' } } });
  });
});

describe('long-poll', () => {
  it('answers at once with events and next; waits for new events; answers empty after wait', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const empty = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=0&wait=10`);
    expect(empty.status).toBe(200);
    expect(PollReply.safeParse(empty.body).success).toBe(true);
    expect(empty.body).toMatchObject({ events: [], next: 0 });

    const waiting = api(url, 'GET', `/v1/sessions/${sid}/poll?after=0&wait=20000`);
    const turnId = (await prompt(url, sid, 'p')).body.turn.id;
    const woke = await waiting;
    expect(woke.body.events[0]).toMatchObject({ type: 'turn.queued', turnId, seq: 1 });

    const run = await script.next();
    run.delta('hi');
    run.end();
    await run.finished;
    const rest = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=${woke.body.next}&epoch=${woke.body.epoch}`);
    expect(rest.body.reset).toBeUndefined();
    expect(rest.body.events.at(-1)).toMatchObject({ type: 'turn.completed', output: 'hi' });
    expect(rest.body.next).toBe(rest.body.events.at(-1).seq);
    const all = [...woke.body.events, ...rest.body.events].map((e: { seq: number }) => e.seq);
    expect(all).toEqual([1, 2, 3, 4]);
  });

  it('reports a reset on an unknown epoch and on trimmed history, then continues after reset.after', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, maxEventsPerSession: 3 });
    const sid = await createSession(url);
    await runTurn(url, sid, script, ['a', 'b']); // seq 1..5, holds 3..5
    const trimmed = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=1`);
    expect(trimmed.body.reset).toMatchObject({ reason: 'history_gone', after: 2 });
    expect(trimmed.body.events.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5]);
    const otherEpoch = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=5&epoch=old`);
    expect(otherEpoch.body.reset).toMatchObject({ reason: 'epoch_changed', after: 2 });
    expect(otherEpoch.body.next).toBe(5);
  });

  it('caps a reply at maxPollEvents; the client pages with next', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, maxPollEvents: 2 });
    const sid = await createSession(url);
    await runTurn(url, sid, script, ['a', 'b', 'c']); // 6 events
    const seqs: number[] = [];
    let next = 0;
    for (let i = 0; i < 3; i++) {
      const page = await api(url, 'GET', `/v1/sessions/${sid}/poll?after=${next}`);
      expect(page.body.events.length).toBeLessThanOrEqual(2);
      seqs.push(...page.body.events.map((e: { seq: number }) => e.seq));
      next = page.body.next;
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('WebSocket', () => {
  it('welcome first; subscribe replies {epoch, seq} then streams batches; prompt/cancel/ping/unsubscribe by id; frames match ServerFrame', async () => {
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent, heartbeatMs: 5000 });
    const sid = await createSession(url);
    const ws = new WsClient(url, 'client-1');
    await ws.welcomed();
    expect(ws.frames[0]).toEqual({ type: 'welcome', clientId: 'client-1', heartbeatMs: 5000 });
    const sub = await ws.request({ type: 'subscribe', sessionId: sid, after: 0 });
    expect(sub).toMatchObject({ ok: true, result: { epoch: (await server.core.getSession(sid))!.epoch, seq: 0 } });
    const p = await ws.request({ type: 'prompt', sessionId: sid, prompt: 'go', idempotencyKey: 'k' });
    expect(p.ok).toBe(true);
    const again = await ws.request({ type: 'prompt', sessionId: sid, prompt: 'go', idempotencyKey: 'k' });
    expect(again.result.turn.id).toBe(p.result.turn.id);
    const turnId = p.result.turn.id;
    const run = await script.next();
    run.delta('x');
    await ws.until(() => ws.events.some((e) => e.type === 'turn.delta'), 'delta');
    const c1 = await ws.request({ type: 'cancel', sessionId: sid, turnId, reason: 'user' });
    expect(c1).toMatchObject({ ok: true, result: { cancelled: true } });
    const c2 = await ws.request({ type: 'cancel', sessionId: sid, turnId });
    expect(c2).toMatchObject({ ok: true, result: { cancelled: false, reason: 'already_finished' } });
    const c3 = await ws.request({ type: 'cancel', sessionId: sid, turnId: 'nope' });
    expect(c3).toMatchObject({ ok: false, error: { code: 'not_found', status: 404 } });
    await ws.until(() => ws.terminal(turnId) !== undefined, 'terminal');
    expect(ws.terminal(turnId)).toMatchObject({ type: 'turn.canceled', canceledBy: 'client-1', reason: 'user' });
    ws.ws.send(JSON.stringify({ type: 'ping', time: 42 }));
    await ws.until(() => ws.frames.some((f) => f.type === 'pong'), 'pong');
    expect(ws.frames.find((f) => f.type === 'pong')).toEqual({ type: 'pong', time: 42 });
    expect(await ws.request({ type: 'unsubscribe', sessionId: sid })).toMatchObject({ ok: true, result: {} });
    expect(ws.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    for (const frame of ws.frames) expect(ServerFrame.safeParse(frame).success).toBe(true);
    const unknown = await ws.request({ type: 'subscribe', sessionId: 'nope' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'session_not_found', status: 404 } });
    const prompt404 = await ws.request({ type: 'prompt', sessionId: 'nope', prompt: 'x' });
    expect(prompt404).toMatchObject({ ok: false, error: { code: 'session_not_found' } });
  });

  it('multiplexes sessions on one socket; resubscribing restarts from the new cursor; reset frame on unknown epoch', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const s1 = await createSession(url);
    const s2 = await createSession(url);
    const t1 = await runTurn(url, s1, script, ['one']);
    const t2 = await runTurn(url, s2, script, ['two']);
    const ws = new WsClient(url);
    await ws.request({ type: 'subscribe', sessionId: s1 });
    await ws.request({ type: 'subscribe', sessionId: s2, after: 2 });
    await ws.until(() => ws.terminal(t1) !== undefined && ws.terminal(t2) !== undefined, 'both terminals');
    expect(ws.events.filter((e) => e.sessionId === s1).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(ws.events.filter((e) => e.sessionId === s2).map((e) => e.seq)).toEqual([3, 4]);
    const batches = ws.frames.filter((f) => f.type === 'events');
    for (const batch of batches) for (const e of batch.events) expect(e.sessionId).toBe(batch.sessionId);
    ws.events = [];
    await ws.request({ type: 'subscribe', sessionId: s1, after: 3, epoch: 'stale' });
    await ws.until(() => ws.resets.length === 1 && ws.events.length === 4, 'reset and replay');
    expect(ws.resets[0]).toMatchObject({ type: 'reset', sessionId: s1, after: 0, reason: 'epoch_changed' });
  });

  it('a restart on the same memoryStore keeps epochs: a cursor-resuming subscriber gets no reset, only new events', async () => {
    const store = memoryStore();
    const script = scriptedAgent();
    const first = await startServer({ agent: script.agent, store });
    const sid = await createSession(first.url);
    await runTurn(first.url, sid, script, ['a']);
    const epoch = (await first.server.core.getSession(sid))!.epoch;
    await first.server.close();
    const second = await startServer({ agent: script.agent, store });
    const ws = new WsClient(second.url);
    const sub = await ws.request({ type: 'subscribe', sessionId: sid, after: 4, epoch });
    expect(sub.result).toEqual({ epoch, seq: 4 });
    const t2 = await runTurn(second.url, sid, script, ['b']);
    await ws.until(() => ws.terminal(t2) !== undefined, 'terminal');
    expect(ws.resets).toEqual([]);
    expect(ws.events.map((e) => e.seq)).toEqual([5, 6, 7, 8]);
  });
});

describe('WebSocket heartbeats', () => {
  it('pings every heartbeatMs; a peer that answers stays connected', async () => {
    const { url, server } = await startServer({ agent: scriptedAgent().agent, heartbeatMs: 20 });
    const ws = new WsClient(url, 'alive');
    await ws.welcomed();
    let pings = 0;
    await new Promise<void>((resolve) =>
      ws.ws.on('ping', () => {
        if (++pings === 5) resolve();
      }),
    );
    expect(ws.closed).toBe(false);
    expect(server.stats().connections.map((c) => c.clientId)).toEqual(['alive']);
  });

  it('terminates a half-open socket that neither answers pings nor drains for two periods', async () => {
    const { url, server } = await startServer({ agent: scriptedAgent().agent, heartbeatMs: 20 });
    const ws = new WsClient(url, 'dead');
    await ws.welcomed();
    ws.ws.pause(); // reads nothing, so answers no ping: like a peer that vanished
    await eventually(() => server.stats().connections.length === 0, 'server dropped the dead socket');
    expect(server.stats().connections).toEqual([]);
  });
});
