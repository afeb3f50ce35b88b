import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createServer, demoAgent } from '../../src/server.js';
import { PromptReply, SessionSnapshot, TurnReply, CreateSessionReply } from '../../src/protocol/index.js';
import {
  api,
  cancel,
  createSession,
  deltaText,
  prompt,
  scriptedAgent,
  SseReader,
  startServer,
  WsClient,
} from './helpers.js';

describe('HTTP commands', () => {
  it('creates a session, prompts, reads the turn and the snapshot; replies match the schemas', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const created = await api(url, 'POST', '/v1/sessions', { metadata: { repo: 'x' } });
    expect(created.status).toBe(201);
    expect(CreateSessionReply.safeParse(created.body).success).toBe(true);
    const sid = created.body.session.id;
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const reply = await prompt(url, sid, 'hello', 'alice');
    expect(reply.status).toBe(201);
    expect(PromptReply.safeParse(reply.body).success).toBe(true);
    const turnId = reply.body.turn.id;
    const run = await script.next();
    run.delta('a');
    run.delta('b');
    run.end();
    await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
    const turn = await api(url, 'GET', `/v1/sessions/${sid}/turns/${turnId}`);
    expect(TurnReply.safeParse(turn.body).success).toBe(true);
    expect(turn.body.turn).toMatchObject({ status: 'completed', clientId: 'alice', terminal: { type: 'turn.completed', output: 'ab' } });
    const snapshot = await api(url, 'GET', `/v1/sessions/${sid}`);
    expect(SessionSnapshot.safeParse(snapshot.body).success).toBe(true);
    expect(snapshot.body.session).toMatchObject({ id: sid, seq: 5, metadata: { repo: 'x' } });
    expect(snapshot.body.turns.map((t: { id: string }) => t.id)).toEqual([turnId]);
    expect(sse.events.find((e) => e.type === 'turn.queued')).toMatchObject({ clientId: 'alice', prompt: 'hello' });
  });

  it('a retried prompt with the same Idempotency-Key returns the same turn with 200 and creates nothing', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const first = await prompt(url, sid, 'x', 'c', 'key-1');
    const second = await prompt(url, sid, 'x', 'c', 'key-1');
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.turn.id).toBe(first.body.turn.id);
    const other = await prompt(url, sid, 'x', 'c', 'key-2');
    expect(other.status).toBe(201);
    expect(other.body.turn.id).not.toBe(first.body.turn.id);
  });

  // F1 (DESIGN.md §1): cancel is a normal end, never a 5xx.
  it('F1: two concurrent HTTP cancels of one turn: one {cancelled:true}, the other already_finished; every subscriber sees one turn.canceled', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const sseA = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const ws = new WsClient(url, 'watcher');
    await ws.request({ type: 'subscribe', sessionId: sid });
    const turnId = (await prompt(url, sid, 'long job', 'alice')).body.turn.id;
    (await script.next()).delta('working');
    const [a, b] = await Promise.all([cancel(url, sid, turnId, 'bob', 'enough'), cancel(url, sid, turnId, 'carol')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const bodies = [a.body, b.body];
    expect(bodies).toContainEqual({ cancelled: true });
    expect(bodies).toContainEqual({ cancelled: false, reason: 'already_finished' });
    await sseA.until(() => sseA.terminal(turnId) !== undefined, 'sse terminal');
    await ws.until(() => ws.terminal(turnId) !== undefined, 'ws terminal');
    for (const events of [sseA.events, ws.events]) {
      const terminals = events.filter((e) => e.turnId === turnId && e.type.startsWith('turn.') && ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type));
      expect(terminals).toHaveLength(1);
      expect(terminals[0]).toMatchObject({ type: 'turn.canceled', canceledBy: a.body.cancelled ? 'bob' : 'carol' });
    }
  });

  // F1 (DESIGN.md §1): cancel is a normal end, never a 5xx.
  it('F1: a cancel racing the turn completing answers 200 either way and there is exactly one terminal', async () => {
    const { url } = await startServer({ agent: demoAgent({ reply: 'abcdefghij'.repeat(3), chunkSize: 1, delayMs: 2 }) });
    const sid = await createSession(url);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const outcomes = new Set<string>();
    // How many of the 30 deltas to see before cancelling: early (surely wins), near the end (races), at the end (loses).
    const waits = [1, 26, 28, 29, 30, 30, 27, 2];
    for (let i = 0; i < waits.length; i++) {
      const turnId = (await prompt(url, sid, `p${i}`)).body.turn.id;
      await sse.until(() => sse.events.filter((e) => e.turnId === turnId && e.type === 'turn.delta').length >= waits[i]!, 'deltas');
      const reply = await cancel(url, sid, turnId, 'racer');
      expect(reply.status).toBe(200);
      await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
      const terminals = sse.events.filter((e) => e.turnId === turnId && ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type));
      expect(terminals).toHaveLength(1);
      expect(reply.body.cancelled).toBe(terminals[0]!.type === 'turn.canceled');
      outcomes.add(terminals[0]!.type);
    }
    expect(outcomes.has('turn.canceled')).toBe(true);
  });

  // F3 (DESIGN.md §1): cancel is owner-aware (names its turn).
  it('F3: cancel of an old turn while a newer one runs: already_finished, the newer turn completes untouched', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const oldId = (await prompt(url, sid, 'old')).body.turn.id;
    (await script.next()).end();
    const newId = (await prompt(url, sid, 'new')).body.turn.id;
    const run = await script.next();
    run.delta('new ');
    const reply = await cancel(url, sid, oldId, 'stale-tab');
    expect(reply).toMatchObject({ status: 200, body: { cancelled: false, reason: 'already_finished' } });
    expect(run.input.signal.aborted).toBe(false);
    run.delta('output');
    run.end();
    await sse.until(() => sse.terminal(newId) !== undefined, 'new terminal');
    expect(sse.terminal(newId)).toMatchObject({ type: 'turn.completed', output: 'new output' });
    expect(sse.events.filter((e) => e.type === 'turn.canceled')).toHaveLength(0);
  });

  it('cancel of an unknown turn or session is 404 with a JSON error', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const sid = await createSession(url);
    const unknownTurn = await cancel(url, sid, 'no-such-turn');
    expect(unknownTurn).toMatchObject({ status: 404, body: { error: { code: 'not_found', status: 404 } } });
    const unknownSession = await cancel(url, 'no-such-session', 'x');
    expect(unknownSession.status).toBe(404);
  });

  // F2 (DESIGN.md §1): turns are detached from connections.
  it('F2: the prompting WebSocket dropped mid-turn: the turn continues and other clients see its completion', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const watcher = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const prompter = new WsClient(url, 'prompter');
    const reply = await prompter.request({ type: 'prompt', sessionId: sid, prompt: 'build it' });
    const turnId = reply.result.turn.id;
    const run = await script.next();
    run.delta('half ');
    prompter.ws.terminate(); // no close frame: a dropped connection
    await prompter.until(() => prompter.closed, 'closed');
    run.delta('done');
    run.end();
    await watcher.until(() => watcher.terminal(turnId) !== undefined, 'terminal');
    expect(watcher.terminal(turnId)).toMatchObject({ type: 'turn.completed', output: 'half done' });
    expect(run.input.signal.aborted).toBe(false);
  });

  // F2 (DESIGN.md §1): turns are detached from connections.
  it('F2: a prompt whose HTTP connection is destroyed right after sending still runs to completion', async () => {
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent });
    const sid = await createSession(url);
    const watcher = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const body = JSON.stringify({ prompt: 'fire and forget' });
    const req = httpRequest(`${url}/v1/sessions/${sid}/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => {});
    req.end(body);
    const run = await script.next(); // the server accepted it
    req.destroy();
    run.delta('still running');
    run.end();
    await watcher.until(() => watcher.events.some((e) => e.type === 'turn.completed'), 'completion');
    expect(deltaText(watcher.events)).toBe('still running');
  });

  it('CORS preflight is answered, and replies carry Access-Control-Allow-Origin', async () => {
    const { url } = await startServer({ agent: scriptedAgent().agent });
    const preflight = await fetch(`${url}/v1/sessions`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    const created = await api(url, 'POST', '/v1/sessions');
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('invalid options throw a TypeError naming the field', () => {
    expect(() => createServer({} as never)).toThrow(/`agent`/);
    expect(() => createServer({ agent: demoAgent(), heartbeatMs: 0 })).toThrow(TypeError);
    expect(() => createServer({ agent: demoAgent(), highWaterBytes: -1 })).toThrow(/highWaterBytes/);
    expect(() => createServer({ agent: demoAgent(), store: {} as never })).toThrow(/store/);
    expect(() => demoAgent({ chunkSize: 0 })).toThrow(/chunkSize/);
    // `undefined` keeps the default instead of wiping it.
    expect(() => createServer({ agent: demoAgent(), heartbeatMs: undefined })).not.toThrow();
  });
});
