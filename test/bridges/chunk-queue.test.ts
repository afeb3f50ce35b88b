// ChunkQueue: a flood of upstream chunks wakes the turn runner at most once per coalescing window, its deltas joined.
import { describe, expect, it } from 'vitest';
import type { AgentChunk } from '../../src/server.js';
import { ChunkQueue } from '../../src/bridges/shared/chunk-queue.js';
import { FakeClock } from '../transport/helpers.js';

const delta = (text: string): AgentChunk => ({ type: 'delta', text });

/** Lets every pending promise callback run (the consumer below only awaits the queue). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A queue on a fake clock, read like the turn runner reads it (collecting the texts), the reader already waiting. */
async function waitingReader(coalesceMs: number) {
  const clock = new FakeClock();
  const queue = new ChunkQueue({ clock, coalesceMs });
  const texts: string[] = [];
  const done = (async () => {
    for await (const chunk of queue) texts.push(chunk.type === 'delta' ? chunk.text : '(item)');
  })();
  await settle();
  return { clock, queue, reader: { texts, done } };
}

describe('ChunkQueue', () => {
  it('hands the first delta after a quiet spell on at once, and the flood behind it once per window as one delta', async () => {
    const { clock, queue, reader } = await waitingReader(2);

    queue.push(delta('a'));
    await settle();
    expect(reader.texts).toEqual(['a']); // leading edge: no added latency for a lone chunk

    queue.push(delta('b'));
    queue.push(delta('c'));
    await settle();
    clock.advance(1);
    queue.push(delta('d'));
    await settle();
    expect(reader.texts).toEqual(['a']); // within the window: held, one timer for all of them
    expect(clock.scheduled()).toEqual([1]);

    clock.advance(1);
    await settle();
    expect(reader.texts).toEqual(['a', 'bcd']); // one wake-up, one delta for the three
    expect(clock.pending).toBe(0);

    // Quiet for longer than the window: the next chunk goes at once again.
    clock.advance(5);
    queue.push(delta('e'));
    await settle();
    expect(reader.texts).toEqual(['a', 'bcd', 'e']);

    queue.end();
    await reader.done;
    expect(clock.pending).toBe(0);
  });

  it('ends (or fails) at once, without waiting for the window, and leaves no timer', async () => {
    const { clock, queue, reader } = await waitingReader(2);
    queue.push(delta('a'));
    await settle();
    queue.push(delta('b'));
    await settle();
    expect(clock.pending).toBe(1);
    queue.fail(new Error('upstream gone'));
    await expect(reader.done).rejects.toThrow('upstream gone');
    expect(reader.texts).toEqual(['a', 'b']);
    expect(clock.pending).toBe(0);
  });

  it('an item keeps its place between deltas, and a joined delta stops at 64 K characters', async () => {
    const clock = new FakeClock();
    const queue = new ChunkQueue({ clock, coalesceMs: 2 });
    const iterator = queue[Symbol.asyncIterator]();
    const big = 'x'.repeat(40 * 1024);
    queue.push(delta('a'));
    queue.push(delta('b'));
    queue.push({ type: 'item', item: { n: 1 } });
    queue.push(delta('c'));
    queue.push(delta(big));
    queue.push(delta(big));
    queue.push(delta('d'));
    queue.end();
    const chunks: AgentChunk[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks.push(r.value);
    expect(chunks).toEqual([delta('ab'), { type: 'item', item: { n: 1 } }, delta(`c${big}${big}`), delta('d')]);
    expect(clock.pending).toBe(0); // taken while queued: no wake-up was needed
  });

  it('with coalesceMs 0 every chunk wakes the reader', async () => {
    const { clock, queue, reader } = await waitingReader(0);
    for (const text of ['a', 'b', 'c']) {
      queue.push(delta(text));
      await settle();
      expect(reader.texts.at(-1)).toBe(text);
    }
    expect(clock.pending).toBe(0);
    queue.end();
    await reader.done;
  });
});
