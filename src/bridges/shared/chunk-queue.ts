/** ChunkQueue: what an upstream server pushes for one turn, handed to the turn runner as an async iterable. */
import type { AgentChunk } from '../../server.js';
import { type Clock, systemClock } from '../../internal/clock.js';

/** How {@link ChunkQueue} hands chunks on. */
export interface ChunkQueueOptions {
  /**
   * While chunks arrive closer together than this, the turn runner is woken at
   * most once per window (the first chunk after a quiet spell wakes it at once),
   * so a flood of upstream messages is published in batches instead of one
   * event and socket write per message. 0: wake on every chunk.
   * @default 2
   */
  coalesceMs?: number;
  clock?: Clock;
}

/** Defaults of {@link ChunkQueueOptions}. */
export const CHUNK_QUEUE_DEFAULTS = { coalesceMs: 2 } as const;

/** Queued deltas are joined until the text reaches this many characters (events and frames stay bounded). */
const MERGE_LIMIT = 64 * 1024;

/**
 * An unbounded FIFO between an upstream connection's message handler and the
 * turn runner. It is unbounded on purpose: the bridge must read its upstream
 * continuously (an upstream that drops slow readers would otherwise drop us,
 * F6), and the turn runner drains it into the session log on every wake-up,
 * where the server's own bounded, cursor-based delivery takes over.
 *
 * Upstreams send one message per token and the server publishes what the
 * runner appended per event-loop turn: woken per message, a 20,000-delta
 * Codex turn costs 20,000 events, and socket writes to every subscriber. So
 * wake-ups are coalesced (`coalesceMs`), and the deltas queued by then are
 * handed on as one delta (their text joined, in order; an item between them
 * keeps its place): the text is exact, in fewer, larger deltas — as a client
 * that reads behind the stream also gets it. A delta after a quiet spell goes
 * on alone and at once.
 */
export class ChunkQueue implements AsyncIterable<AgentChunk> {
  #items: AgentChunk[] = [];
  #head = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #clock: Clock;
  #coalesceMs: number;
  #lastWake = Number.NEGATIVE_INFINITY;
  #timer: unknown;

  constructor(options: ChunkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#coalesceMs = options.coalesceMs ?? CHUNK_QUEUE_DEFAULTS.coalesceMs;
  }

  push(chunk: AgentChunk): void {
    if (this.#ended) return;
    this.#items.push(chunk);
    this.#notify(false);
  }

  /** No more chunks: the iteration ends after the queued ones. */
  end(): void {
    this.#ended = true;
    this.#notify(true);
  }

  /** The iteration throws `error` after the queued chunks. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#failure = { error };
    this.end();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Wake the waiting consumer now, or at the end of the current window (`urgent`: now). */
  #notify(urgent: boolean): void {
    if (this.#wake === undefined) return; // not waiting: it takes what is queued when it comes back
    const since = this.#clock.now() - this.#lastWake;
    if (urgent || since >= this.#coalesceMs) return this.#wakeNow();
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#wakeNow();
    }, this.#coalesceMs - since);
  }

  #wakeNow(): void {
    this.#clearTimer();
    const wake = this.#wake;
    this.#wake = undefined;
    this.#lastWake = this.#clock.now();
    wake?.();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #peek(): AgentChunk | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  #take(): AgentChunk {
    const chunk = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as AgentChunk;
    // Compact now and then so a 100,000-delta turn does not keep every chunk alive.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return chunk;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AgentChunk> {
    try {
      for (;;) {
        if (this.#head < this.#items.length) {
          const chunk = this.#take();
          if (chunk.type !== 'delta' || this.#peek()?.type !== 'delta') {
            yield chunk;
            continue;
          }
          const texts = [chunk.text];
          let length = chunk.text.length;
          while (length < MERGE_LIMIT && this.#peek()?.type === 'delta') {
            const text = (this.#take() as { text: string }).text;
            texts.push(text);
            length += text.length;
          }
          yield { type: 'delta', text: texts.join('') };
          continue;
        }
        if (this.#ended) {
          if (this.#failure) throw this.#failure.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      // The runner stopped reading (a cancel): no wake-up timer may outlive it (F7).
      this.#wake = undefined;
      this.#clearTimer();
    }
  }
}
