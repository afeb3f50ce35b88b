// The dispatcher's error mapping: a ServerError by its own status and headers,
// anything else a logged 500 whose text never reaches the client.
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/server/commands/dispatcher.js';
import { ServerError, type LogFields, type TetherCore } from '../../src/server.js';

function dispatcherOver(core: Partial<TetherCore>) {
  const errors: Array<{ fields: LogFields; message: string }> = [];
  const dispatcher = new Dispatcher(core as TetherCore, {
    logger: { error: (fields, message) => errors.push({ fields, message }) },
    maxPollEvents: 10,
  });
  return { dispatcher, errors };
}

describe('Dispatcher', () => {
  it('answers an unexpected error with 500 internal_error and logs it with the error', async () => {
    const boom = new Error('db password=hunter2 failed');
    const { dispatcher, errors } = dispatcherOver({
      getSession: () => {
        throw boom;
      },
    });
    const reply = await dispatcher.run({ type: 'getTurn', sessionId: 's', turnId: 't' });
    expect(reply).toMatchObject({ ok: false, status: 500, error: { code: 'internal_error', status: 500 }, headers: {} });
    expect(JSON.parse(reply.json)).toEqual({ error: { code: 'internal_error', message: 'The server failed to handle the request', status: 500 } });
    expect(reply.json).not.toContain('hunter2');
    expect(errors).toEqual([{ fields: { err: boom }, message: 'agent-tether: request failed' }]);
  });

  it('answers a ServerError by its status, body and headers, without logging', async () => {
    const { dispatcher, errors } = dispatcherOver({
      createSession: () => {
        throw new ServerError('shutting_down', 'The server is shutting down', 503);
      },
    });
    const reply = await dispatcher.run({ type: 'createSession' });
    expect(reply).toMatchObject({ ok: false, status: 503, headers: { 'Retry-After': '1' } });
    expect(JSON.parse(reply.json)).toEqual({ error: { code: 'shutting_down', message: 'The server is shutting down', status: 503 } });
    expect(errors).toEqual([]);
  });

  it('fails a prompt whose durable write fails instead of acknowledging it', async () => {
    const { dispatcher } = dispatcherOver({
      prompt: () => ({ turn: { id: 't', sessionId: 's', status: 'queued', prompt: 'hi', createdAt: 0, queuedSeq: 1 }, created: true }),
      durable: () => Promise.reject(new ServerError('store_unavailable', 'The store is unavailable', 503)),
    });
    const reply = await dispatcher.run({ type: 'prompt', sessionId: 's', prompt: 'hi' });
    expect(reply).toMatchObject({ ok: false, status: 503, error: { code: 'store_unavailable' } });
  });
});
