/** A snapshot's size is bounded: long prompts and outputs are cut and marked; the turn's own route has all of it. */
import { describe, expect, it } from 'vitest';
import { api, createSession, prompt, scriptedAgent, startServer } from '../server/helpers.js';

describe('snapshot size', () => {
  it('prompts and outputs over maxSnapshotTextChars are cut and marked truncated; GET turn answers them whole', async () => {
    const agent = scriptedAgent();
    const { url } = await startServer({ agent: agent.agent, maxSnapshotTextChars: 100 });
    const sessionId = await createSession(url);
    const long = 'p'.repeat(5000);
    const first = await prompt(url, sessionId, long);
    const run = await agent.next();
    run.delta('o'.repeat(3000));
    run.end();
    await run.finished;
    await prompt(url, sessionId, 'short');
    const short = await agent.next();
    short.end();
    await short.finished;

    await expect.poll(async () => (await api(url, 'GET', `/v1/sessions/${sessionId}`)).body.turns[1].status).toBe('completed');
    const snapshot = await api(url, 'GET', `/v1/sessions/${sessionId}`);
    const [cut, whole] = snapshot.body.turns;
    expect(cut.prompt).toBe('p'.repeat(100));
    expect(cut.truncated).toBe(true);
    expect(cut.terminal.output).toBe('o'.repeat(100));
    expect(whole.prompt).toBe('short');
    expect(whole.truncated).toBeUndefined();

    const turn = await api(url, 'GET', `/v1/sessions/${sessionId}/turns/${first.body.turn.id}`);
    expect(turn.body.turn.prompt).toBe(long);
    expect(turn.body.turn.terminal.output).toBe('o'.repeat(3000));
    expect(turn.body.turn.truncated).toBeUndefined();
  });

  it('by default a snapshot of 50 turns of 200 KB prompts stays under 1 MB (10 MB uncut)', async () => {
    const agent = scriptedAgent();
    const { url } = await startServer({ agent: agent.agent, maxQueuedTurns: 100, promptsPerMinute: 100 });
    const sessionId = await createSession(url);
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 50; i++) expect((await prompt(url, sessionId, big)).status).toBe(201);
    const response = await fetch(`${url}/v1/sessions/${sessionId}`);
    const bytes = (await response.arrayBuffer()).byteLength;
    expect(response.status).toBe(200);
    expect(bytes).toBeLessThan(1024 * 1024);
  });
});
