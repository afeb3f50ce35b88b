import { describe, expect, it } from 'vitest';
import { echoScript, scriptedAgent, type AgentChunk, type AgentInput } from '../../src/testing.js';

function input(prompt: string, signal = new AbortController().signal): AgentInput {
  return {
    prompt,
    signal,
    sessionId: 's1',
    turnId: 't1',
    clientId: 'c1',
    state: { get: () => ({}), set: async () => {} },
    history: [],
    requestInput: async () => ({ status: 'unanswered', reason: 'turn_ended' }),
  };
}

async function collect(iterable: AsyncIterable<AgentChunk> | Iterable<AgentChunk>): Promise<AgentChunk[]> {
  const out: AgentChunk[] = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

describe('scriptedAgent', () => {
  it('echoes the prompt word by word by default', async () => {
    const agent = scriptedAgent();
    const chunks = await collect(agent(input('hi there')));
    expect(chunks).toEqual([
      { type: 'delta', text: 'echo: ' },
      { type: 'delta', text: 'hi ' },
      { type: 'delta', text: 'there' },
    ]);
    expect(echoScript({ prompt: '' })).toEqual([{ delta: 'echo: ' }]);
    expect(agent.calls.map((c) => c.prompt)).toEqual(['hi there']);
  });

  it('plays deltas, items and delays in order', async () => {
    const agent = scriptedAgent([{ delta: 'a' }, { item: { kind: 'tool', n: 1 } }, { delayMs: 5 }, { delta: 'b' }]);
    expect(await collect(agent(input('x')))).toEqual([
      { type: 'delta', text: 'a' },
      { type: 'item', item: { kind: 'tool', n: 1 } },
      { type: 'delta', text: 'b' },
    ]);
  });

  it('picks the script per prompt when given a function', async () => {
    const agent = scriptedAgent(({ prompt, turnId }) => [{ delta: `${prompt}@${turnId}` }]);
    expect(await collect(agent(input('p')))).toEqual([{ type: 'delta', text: 'p@t1' }]);
  });

  it('throws for an error step after what came before', async () => {
    const agent = scriptedAgent([{ delta: 'partial' }, { error: { message: 'boom', name: 'ToolError' } }]);
    const seen: AgentChunk[] = [];
    const run = (async () => {
      for await (const chunk of agent(input('x'))) seen.push(chunk);
    })();
    await expect(run).rejects.toMatchObject({ message: 'boom', name: 'ToolError' });
    expect(seen).toEqual([{ type: 'delta', text: 'partial' }]);
    await expect(collect(scriptedAgent([{ error: 'plain' }])(input('x')))).rejects.toThrow('plain');
  });

  it('hangs until the signal aborts, then ends quietly', async () => {
    const controller = new AbortController();
    const agent = scriptedAgent([{ delta: 'before' }, { hang: true }, { delta: 'never' }]);
    const started = agent.nextCall();
    const run = collect(agent(input('x', controller.signal)));
    expect((await started).prompt).toBe('x');
    controller.abort();
    expect(await run).toEqual([{ type: 'delta', text: 'before' }]);
  });

  it('cuts a long delay short on abort', async () => {
    const controller = new AbortController();
    const agent = scriptedAgent([{ delayMs: 60_000 }, { delta: 'late' }]);
    const began = Date.now();
    const run = collect(agent(input('x', controller.signal)));
    setTimeout(() => controller.abort(), 10);
    expect(await run).toEqual([]);
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it('waits on an `until` gate the test opens', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const agent = scriptedAgent([{ delta: 'one' }, { until: gate }, { delta: 'two' }]);
    const seen: string[] = [];
    const run = (async () => {
      for await (const chunk of agent(input('x'))) if (chunk.type === 'delta') seen.push(chunk.text);
    })();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['one']);
    open();
    await run;
    expect(seen).toEqual(['one', 'two']);
  });

  it('rejects invalid scripts with a TypeError naming the step', async () => {
    expect(() => scriptedAgent('nope' as never)).toThrow(/`script`/);
    expect(() => scriptedAgent([{ delta: 'ok' }, { delta: 3 } as never])).toThrow(/`script\[1\]`/);
    expect(() => scriptedAgent([{ delayMs: -1 }])).toThrow(/delayMs/);
    expect(() => scriptedAgent([{ hang: false } as never])).toThrow(/hang/);
    expect(() => scriptedAgent([{ bogus: 1 } as never])).toThrow(TypeError);
    const dynamic = scriptedAgent(() => [{ wat: 1 } as never]);
    await expect(collect(dynamic(input('x')))).rejects.toThrow(/`script\[0\]`/);
  });
});
