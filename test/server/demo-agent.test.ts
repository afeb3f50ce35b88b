import { describe, expect, it } from 'vitest';
import { demoAgent, type AgentChunk } from '../../src/server.js';
import { countTo, GREETING, SLOW_PAUSE_MS, SLOW_WORDS } from '../../src/server/demo-agent.js';
import { createSession, deltaText, prompt, SseReader, startServer, cancel } from './helpers.js';

async function collect(iterable: AsyncIterable<AgentChunk> | Iterable<AgentChunk>): Promise<AgentChunk[]> {
  const chunks: AgentChunk[] = [];
  for await (const chunk of iterable as AsyncIterable<AgentChunk>) chunks.push(chunk);
  return chunks;
}
const input = (signal: AbortSignal, prompt = 'hello') => ({
  prompt,
  signal,
  sessionId: 's',
  turnId: 't',
  clientId: undefined,
  state: { get: () => ({}), set: async () => {} },
  history: [],
  requestInput: async () => ({ status: 'unanswered' as const, reason: 'turn_ended' as const }),
});

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

  /** A clock whose timers fire only when the test says so. */
  function manualClock() {
    const pending: Array<{ fn: () => void; ms: number }> = [];
    return {
      pending,
      clock: {
        now: () => 0,
        setTimeout: (fn: () => void, ms: number) => pending.push({ fn, ms }),
        clearTimeout: () => {},
      },
    };
  }
  const texts = (chunks: AgentChunk[]) => chunks.map((c) => (c as { text: string }).text);

  it('scripts "say hello" and "count to N" one word per delta, whatever the case', async () => {
    const agent = demoAgent({ delayMs: 0 });
    const hello = texts(await collect(agent(input(new AbortController().signal, '  SAY HELLO again'))));
    expect(hello.join('')).toBe(GREETING);
    expect(hello).toHaveLength(GREETING.split(' ').length);
    const count = texts(await collect(agent(input(new AbortController().signal, 'Count to 12 please'))));
    expect(count).toEqual(countTo(12).split(' ').map((n, i) => (i === 0 ? n : ` ${n}`)));
    expect(texts(await collect(agent(input(new AbortController().signal, 'count to 5000')))).length).toBe(1000);
  });

  it('a given reply turns the scripts off', async () => {
    const chunks = await collect(demoAgent({ reply: 'fixed', delayMs: 0 })(input(new AbortController().signal, 'say hello')));
    expect(texts(chunks)).toEqual(['fixed']);
  });

  /** A clock that fires every timer on the next microtask and records what it was asked to wait. */
  function recordingClock() {
    const waits: number[] = [];
    return {
      waits,
      clock: {
        now: () => 0,
        setTimeout: (fn: () => void, ms: number) => {
          waits.push(ms);
          queueMicrotask(fn);
        },
        clearTimeout: () => {},
      },
    };
  }

  it('streams "write an endless essay" until its signal aborts, waiting on its clock even at delayMs 0', async () => {
    const { waits, clock } = recordingClock();
    const controller = new AbortController();
    const words: string[] = [];
    for await (const chunk of demoAgent({ delayMs: 0, clock })(input(controller.signal, 'Write an endless essay')) as AsyncIterable<AgentChunk>) {
      words.push((chunk as { text: string }).text);
      if (words.length === 200) controller.abort();
    }
    expect(words).toHaveLength(200);
    expect(words.join('')).toMatch(/^Agents that keep working/);
    // 1 ms apart, so the cancel that ends it gets its turn on a real event loop.
    expect(new Set(waits)).toEqual(new Set([1]));
  });

  it('streams a "slow" prompt for about 10 s on its clock: 40 words, 250 ms apart, whatever delayMs is', async () => {
    const { waits, clock } = recordingClock();
    const chunks = await collect(demoAgent({ delayMs: 0, clock })(input(new AbortController().signal, 'slow, please')));
    expect(chunks).toHaveLength(SLOW_WORDS);
    expect(waits).toEqual(Array(SLOW_WORDS - 1).fill(SLOW_PAUSE_MS));
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(9_000);
  });

  it('on a real server, a "slow" turn is still running when it is canceled', async () => {
    // The agent's clock never fires: the turn stays on its first word until the cancel.
    const { clock } = manualClock();
    const { url } = await startServer({ agent: demoAgent({ clock }) });
    const sid = await createSession(url);
    const sse = new SseReader(`${url}/v1/sessions/${sid}/events`);
    const turnId = (await prompt(url, sid, 'slow')).body.turn.id;
    await sse.until(() => sse.events.some((e) => e.type === 'turn.delta'), 'first word');
    expect((await cancel(url, sid, turnId, 'me')).body).toEqual({ cancelled: true });
    await sse.until(() => sse.terminal(turnId) !== undefined, 'terminal');
    expect(sse.terminal(turnId)).toMatchObject({ type: 'turn.canceled', canceledBy: 'me' });
    expect(deltaText(sse.events, turnId)).toBe('Agents');
  });
});
