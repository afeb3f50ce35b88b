import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import { useReferenceServer } from './reference-server.js';

async function* agent({ prompt }: { prompt: string }) {
  yield { type: 'delta' as const, text: `re: ${prompt}` };
}

const ref = useReferenceServer(agent);
const client = ref.client;

describe('reading turns and sessions', () => {
  it('a Turn iterated a second time throws already_iterated instead of yielding nothing', async () => {
    const session = await client().createSession();
    const turn = await session.prompt('one');
    const types: string[] = [];
    for await (const ev of turn) types.push(ev.type);
    expect(types.at(-1)).toBe('turn.completed');
    await expect(
      (async () => {
        for await (const _ of turn) {
          // never reached
        }
      })(),
    ).rejects.toMatchObject({ name: 'TetherError', code: 'already_iterated' });
    // The result stays readable any number of times.
    expect((await turn.result).type).toBe('turn.completed');
  });

  it("subscribe({ after: 'now' }) yields only events created after the call", async () => {
    const c = client();
    const session = await c.createSession();
    const old = await session.prompt('old');
    await old.result;
    const sub = session.subscribe({ after: 'now' });
    const it = sub[Symbol.asyncIterator]();
    // Let the subscription find its position before the new turn starts.
    while (c.state.status !== 'open') await new Promise((r) => setTimeout(r, 5));
    const fresh = await session.prompt('new');
    const first = (await it.next()).value;
    expect(first).toMatchObject({ type: 'turn.queued', turnId: fresh.id, prompt: 'new' });
    sub.close();
  });

  it('a connection reset reaches the logger with its reasons: state changes, the retry delay', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const c = client({ logger, transports: ['sse'], reconnect: { initialDelayMs: 10 } });
    const session = await c.createSession();
    const sub = session.subscribe({ after: 0 });
    void (async () => {
      for await (const _ of sub) {
        // keep the stream open
      }
    })();
    const status = (): string => c.state.status;
    while (status() !== 'open') await new Promise((r) => setTimeout(r, 5));
    await ref.server.close(); // the server goes away: the stream drops
    while (status() !== 'reconnecting') await new Promise((r) => setTimeout(r, 5));
    const messages = lines.map((l) => `${l.level}: ${l.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/^info: agent-tether: idle -> connecting \(something to stream\)/));
    expect(messages).toContainEqual(expect.stringMatching(/^info: agent-tether: connecting -> open \(sse opened\)/));
    expect(messages).toContainEqual(expect.stringMatching(/^info: agent-tether: open -> reconnecting \(.+\)/));
    expect(lines.find((l) => l.fields.delayMs !== undefined)?.fields).toMatchObject({ attempt: 1, reason: expect.any(String) });
    sub.close();
  });
});
