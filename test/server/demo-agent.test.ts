import { describe, expect, it } from 'vitest';
import { demoAgent, type AgentChunk } from '../../src/server.js';
import { createSession, deltaText, prompt, SseReader, startServer, cancel } from './helpers.js';

async function collect(iterable: AsyncIterable<AgentChunk> | Iterable<AgentChunk>): Promise<AgentChunk[]> {
  const chunks: AgentChunk[] = [];
  for await (const chunk of iterable as AsyncIterable<AgentChunk>) chunks.push(chunk);
  return chunks;
}
const input = (signal: AbortSignal, prompt = 'hello') => ({ prompt, signal, sessionId: 's', turnId: 't', clientId: undefined });

describe('demoAgent', () => {
  it('streams the reply in chunkSize deltas; the default reply echoes the prompt', async () => {
    const chunks = await collect(demoAgent({ reply: 'abcdefg', chunkSize: 3, delayMs: 0 })(input(new AbortController().signal)));
    expect(chunks).toEqual([
      { type: 'delta', text: 'abc' },
      { type: 'delta', text: 'def' },
      { type: 'delta', text: 'g' },
    ]);
    const echo = await collect(demoAgent({ delayMs: 0 })(input(new AbortController().signal, 'rename foo')));
    expect(echo.map((c) => (c as { text: string }).text).join('')).toContain('rename foo');
  });

  it('paces deltas with its clock and stops as soon as its signal aborts', async () => {
    const pending: Array<() => void> = [];
    const clock = { now: () => 0, setTimeout: (fn: () => void) => pending.push(fn), clearTimeout: () => {} };
    const controller = new AbortController();
    const iterable = demoAgent({ reply: 'aabbcc', chunkSize: 2, delayMs: 50, clock })(input(controller.signal)) as AsyncIterable<AgentChunk>;
    const iterator = iterable[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: { type: 'delta', text: 'aa' } });
    const second = iterator.next();
    expect(pending).toHaveLength(1); // waiting on the clock, not on real time
    pending.shift()!();
    expect(await second).toEqual({ done: false, value: { type: 'delta', text: 'bb' } });
    const third = iterator.next();
    controller.abort();
    expect(await third).toEqual({ done: true, value: undefined });
  });

  it('drives a real server: cancel mid-stream ends the turn with turn.canceled and a prefix of the reply', async () => {
    const reply = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    const { url } = await startServer({ agent: demoAgent({ reply, chunkSize: 4, delayMs: 2 }) });
    const sid = await createSession(url);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const turnId = (await prompt(url, sid, 'go')).body.turn.id;
    await sse.until(() => sse.events.filter((e) => e.type === 'turn.delta').length >= 3, 'deltas');
    expect((await cancel(url, sid, turnId, 'me', 'bored')).body).toEqual({ cancelled: true });
    await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
    expect(sse.terminal(turnId)).toMatchObject({ type: 'turn.canceled', canceledBy: 'me', reason: 'bored' });
    const text = deltaText(sse.events, turnId);
    expect(reply.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(reply.length);
  });
});
