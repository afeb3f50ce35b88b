/** A per-key token bucket on an injectable clock: N per minute, bursts up to N, refilled continuously. */
import type { Clock } from '../../internal/clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Keys kept before full (idle) buckets are swept, so a flood of keys cannot grow memory without end. */
const SWEEP_AT = 10_000;

/**
 * Counts takes per key against `perMinute`: a key may take up to `perMinute`
 * at once, then one more every `60000 / perMinute` ms. `take` answers how long
 * to wait instead of throwing, so the caller decides the error.
 *
 * @example
 * const bucket = new TokenBucket(60, systemClock);
 * const wait = bucket.take('127.0.0.1'); // 0 when allowed, else ms until a token is back
 */
export class TokenBucket {
  readonly perMinute: number;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(perMinute: number, clock: Pick<Clock, 'now'>) {
    this.perMinute = perMinute;
    this.#clock = clock;
  }

  /** Take one token for `key`: 0 when taken, else the ms until one is available (nothing taken). */
  take(key: string): number {
    const now = this.#clock.now();
    const bucket = this.#refill(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) * (60_000 / this.perMinute));
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(now);
      bucket = { tokens: this.perMinute, at: now };
      this.#buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (elapsed * this.perMinute) / 60_000);
    bucket.at = now;
    return bucket;
  }

  /** Drop buckets that refilled completely: they hold nothing a new bucket would not. */
  #sweep(now: number): void {
    const fullAfter = 60_000;
    for (const [key, bucket] of this.#buckets) if (now - bucket.at >= fullAfter) this.#buckets.delete(key);
  }
}
