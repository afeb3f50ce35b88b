// Redaction: an agent's own error text never reaches a client unless the agent marked it safe; the server log has it, under an id both sides see.
import { describe, expect, it } from 'vitest';
import { REDACTED_AGENT_MESSAGE, SafeAgentError, type Agent } from '../../src/server.js';
import { onTeardown, startServer } from '../server/helpers.js';
import { call, openSocket, openSse, request } from './helpers.js';

function failingAgent(): Agent {
  return async function* ({ prompt }) {
    yield { type: 'delta', text: 'working…' };
    if (prompt === 'safe') throw new SafeAgentError('The model is overloaded; try again', { code: 'model_overloaded', retryable: true });
    throw new Error('DB password=hunter2 failed');
  };
}

async function serve() {
  const logged: Array<Record<string, unknown>> = [];
  const { url } = await startServer({ agent: failingAgent(), logger: { error: (fields) => logged.push(fields as Record<string, unknown>) } });
  const sessionId = (await call(url, 'POST', '/v1/sessions', { body: {} })).body.session.id as string;
  return { url, sessionId, logged };
}

/** Every way a client can see the turn's end: turn reply, snapshot, long-poll, WebSocket; all as text. */
async function everythingClientsSee(url: string, sessionId: string, turnId: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const turn = await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`);
    if (turn.body.turn.terminal) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seen = [
    await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`),
    await call(url, 'GET', `/v1/sessions/${sessionId}`),
    await call(url, 'GET', `/v1/sessions/${sessionId}/poll?after=0`),
  ].map((reply) => JSON.stringify(reply.body));
  const opened = await openSocket(url);
  if (!('ws' in opened)) throw new Error('refused');
  onTeardown(() => opened.ws.terminate());
  const events = new Promise<string>((resolve) => opened.ws.on('message', (data) => String(data).includes('"type":"events"') && resolve(String(data))));
  await request(opened.ws, { type: 'subscribe', sessionId, after: 0 });
  seen.push(await events);
  expect((await openSse(url, `/v1/sessions/${sessionId}/events`)).status).toBe(200);
  return seen.join('\n');
}

describe('agent error redaction', () => {
  it('"DB password=hunter2 failed" reaches no client; the log has it with the error id the client sees', async () => {
    const { url, sessionId, logged } = await serve();
    const turnId = (await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { body: { prompt: 'x' } })).body.turn.id as string;
    const seen = await everythingClientsSee(url, sessionId, turnId);
    expect(seen).not.toContain('hunter2');
    const terminal = (await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`)).body.turn.terminal;
    expect(terminal.error).toEqual({ code: 'agent_error', message: REDACTED_AGENT_MESSAGE, retryable: false, errorId: expect.any(String) });
    const line = logged.find((fields) => fields.errorId === terminal.error.errorId);
    expect(line).toMatchObject({ sessionId, turnId });
    expect(String((line!.err as Error).message)).toBe('DB password=hunter2 failed');
    expect(String((line!.err as Error).stack)).toContain('redaction.test.ts');
  });

  it('a SafeAgentError is shown as thrown: its code, message and retryable, with an error id', async () => {
    const { url, sessionId, logged } = await serve();
    const turnId = (await call(url, 'POST', `/v1/sessions/${sessionId}/turns`, { body: { prompt: 'safe' } })).body.turn.id as string;
    await everythingClientsSee(url, sessionId, turnId);
    const terminal = (await call(url, 'GET', `/v1/sessions/${sessionId}/turns/${turnId}`)).body.turn.terminal;
    expect(terminal.error).toEqual({ code: 'model_overloaded', message: 'The model is overloaded; try again', retryable: true, errorId: expect.any(String) });
    expect(logged.some((fields) => fields.errorId === terminal.error.errorId)).toBe(true);
  });

  it('a SafeAgentError refuses a code that is not a stable identifier', () => {
    expect(() => new SafeAgentError('x', { code: 'Bad Code!' })).toThrow(TypeError);
  });
});
