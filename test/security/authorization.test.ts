// Authorization: a principal acts on its own sessions and those shared with it; another's session is indistinguishable from an unknown one.
import { describe, expect, it } from 'vitest';
import { onTeardown } from '../server/helpers.js';
import { bearerProtocols, call, createSession, openSocket, openSse, request, startAuthServer } from './helpers.js';

/** Every way to touch a session, as the principal of `token`: the HTTP routes and both stream transports. */
async function everyAction(url: string, token: string, sessionId: string, turnId: string) {
  const answers: Record<string, { status: number; body: any }> = {};
  answers.read = await call(url, 'GET', `/v1/sessions/${sessionId}`, { token });
  answers.turn = await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`, { token });
  answers.prompt = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token, body: { prompt: 'sneaky' } });
  answers.cancel = await call(url, 'POST', `/v1/sessions/${sessionId}/turns/${turnId}/cancel`, { token, body: {} });
  answers.sse = await openSse(url, `/v1/sessions/${sessionId}/events`, token);
  answers.poll = await call(url, 'GET', `/v1/sessions/${sessionId}/poll?after=0`, { token });
  const opened = await openSocket(url, { protocols: bearerProtocols(token) });
  if (!('ws' in opened)) throw new Error(`socket refused: ${opened.status}`);
  onTeardown(() => opened.ws.terminate());
  for (const frame of [
    { type: 'subscribe', sessionId, after: 0 },
    { type: 'prompt', sessionId, prompt: 'sneaky' },
    { type: 'cancel', sessionId, turnId },
  ]) {
    const reply = await request(opened.ws, frame);
    answers[`ws.${frame.type}`] = { status: reply.ok ? 200 : reply.error.status, body: reply.ok ? reply.result : { error: reply.error } };
  }
  return answers;
}

describe('authorize: owner and sharing', () => {
  it("another principal's session answers exactly like an unknown one on every route and transport", async () => {
    const { url, scripted } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token');
    const turn = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'alice-token', body: { prompt: 'secret plan' } });
    expect(turn.status).toBe(201);
    const turnId = turn.body.turn.id as string;
    const run = await scripted.next();

    const hidden = await everyAction(url, 'bob-token', sessionId, turnId);
    // An id nobody has: its answers, with the id swapped in, must be the same bytes.
    const unknownId = 'f'.repeat(sessionId.length);
    const unknown = await everyAction(url, 'bob-token', unknownId, turnId);
    for (const [action, answer] of Object.entries(hidden)) {
      expect(answer.status, action).toBe(404);
      expect(answer.body, action).toEqual({ error: { code: 'session_not_found', message: `Unknown session: ${sessionId}`, status: 404 } });
      expect(JSON.stringify(unknown[action]!.body).replaceAll(unknownId, sessionId), action).toBe(JSON.stringify(answer.body));
    }
    // Bob's prompts and cancel did nothing: the turn still runs, and is alone.
    expect(run.input.signal.aborted).toBe(false);
    const snapshot = await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'alice-token' });
    expect(snapshot.body.turns.map((t: any) => t.id)).toEqual([turnId]);
  });

  it('the owner may do everything', async () => {
    const { url, scripted } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token');
    const turn = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'alice-token', body: { prompt: 'go' } });
    await scripted.next();
    const answers = await everyAction(url, 'alice-token', sessionId, turn.body.turn.id);
    for (const [action, answer] of Object.entries(answers)) expect(answer.status, action).toBeLessThan(300);
  });

  it('a session shared at creation (sharedWith) is usable by that principal, not by others', async () => {
    const { url, scripted } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token', { sharedWith: ['bob'] });
    const turn = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'bob-token', body: { prompt: 'from bob' } });
    expect(turn.status).toBe(201);
    await scripted.next();
    const bob = await everyAction(url, 'bob-token', sessionId, turn.body.turn.id);
    for (const [action, answer] of Object.entries(bob)) expect(answer.status, action).toBeLessThan(300);
    expect((await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'carol-token' })).status).toBe(404);
  });

  it('server.shareSession shares later, and the share is stored with the session', async () => {
    const { url, server } = await startAuthServer();
    const sessionId = await createSession(url, 'alice-token');
    expect((await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'carol-token' })).status).toBe(404);
    expect(await server.shareSession(sessionId, ['carol'])).toEqual({ owner: 'alice', sharedWith: ['carol'] });
    expect((await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'carol-token' })).status).toBe(200);
    // Evicted from memory and loaded again from the store: owner and share survive.
    server.core.evictIdle();
    const stored = await server.core.sessionAccess(sessionId);
    expect(stored).toEqual({ owner: 'alice', sharedWith: ['carol'] });
    await expect(server.shareSession('nope', ['x'])).rejects.toMatchObject({ code: 'session_not_found', status: 404 });
  });

  it('a custom authorize: read allowed but prompt refused is 403 forbidden; refused create is 403', async () => {
    const { url } = await startAuthServer({
      authorize: ({ principal, action }) => principal.id === 'alice' || (principal.id === 'bob' && action === 'read'),
    });
    const sessionId = await createSession(url, 'alice-token');
    expect((await call(url, 'GET', `/v1/sessions/${sessionId}`, { token: 'bob-token' })).status).toBe(200);
    const prompt = await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'bob-token', body: { prompt: 'x' } });
    expect(prompt.status).toBe(403);
    expect(prompt.body.error.code).toBe('forbidden');
    expect((await call(url, 'POST', '/v1/sessions', { token: 'bob-token', body: {} })).status).toBe(403);
    // Carol may not even read: 404.
    expect((await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { token: 'carol-token', body: { prompt: 'x' } })).status).toBe(404);
  });
});
