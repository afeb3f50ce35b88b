// ChunkQueue: a flood of upstream chunks wakes the turn runner at most once per coalescing window.
import { describe, expect, it } from 'vitest';
import type { AgentChunk } from '../../src/server.js';
import { ChunkQueue } from '../../src/bridges/shared/chunk-queue.js';
import { FakeClock } from '../transport/helpers.js';

const delta = (text: string): AgentChunk => ({ type: 'delta', text });

/** Lets every pending promise callback run (the consumer below only awaits the queue). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Reads `queue` like the turn runner does, collecting the texts. */
function consume(queue: ChunkQueue) {
  const texts: string[] = [];
  const done = (async () => {
    for await (const chunk of queue) texts.push(chunk.type === 'delta' ? chunk.text : '(item)');
  })();
  return { texts, done };
}

describe('ChunkQueue', () => {
  it('hands the first chunk after a quiet spell on at once, and the flood behind it once per window, every chunk in order', async () => {
    const clock = new FakeClock();
    const queue = new ChunkQueue({ clock, coalesceMs: 2 });
    const reader = consume(queue);
    await settle();

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
    expect(reader.texts).toEqual(['a', 'b', 'c', 'd']); // one wake-up for the three
    expect(clock.pending).toBe(0);

    // Quiet for longer than the window: the next chunk goes at once again.
    clock.advance(5);
    queue.push(delta('e'));
    await settle();
    expect(reader.texts).toEqual(['a', 'b', 'c', 'd', 'e']);

    queue.end();
    await reader.done;
    expect(clock.pending).toBe(0);
  });

  it('ends (or fails) at once, without waiting for the window, and leaves no timer', async () => {
    const clock = new FakeClock();
    const queue = new ChunkQueue({ clock, coalesceMs: 2 });
    const reader = consume(queue);
    await settle();
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

  it('a chunk pushed while the reader is busy is taken at its next call, without a timer', async () => {
    const clock = new FakeClock();
    const queue = new ChunkQueue({ clock, coalesceMs: 2 });
    const iterator = queue[Symbol.asyncIterator]();
    queue.push(delta('a'));
    queue.push(delta('b'));
    expect(clock.pending).toBe(0);
    expect(await iterator.next()).toEqual({ done: false, value: delta('a') });
    expect(await iterator.next()).toEqual({ done: false, value: delta('b') });
    await iterator.return?.();
    expect(clock.pending).toBe(0);
  });

  it('with coalesceMs 0 every chunk wakes the reader', async () => {
    const clock = new FakeClock();
    const queue = new ChunkQueue({ clock, coalesceMs: 0 });
    const reader = consume(queue);
    await settle();
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
