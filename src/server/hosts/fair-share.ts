/** The bytes a server's streams together write before other work gets a turn of the event loop (F6). */

/** What all of a server's streams together write before they yield one turn of the event loop to other work. */
export const FAIR_SHARE_BYTES = 2 * 1024 * 1024;

/** Runs `fn` in a later turn of the event loop, after pending I/O. */
export type TurnScheduler = (fn: () => void) => void;

const nextTurnOfLoop: TurnScheduler = (fn) => void setImmediate(fn);

/**
 * An allowance of bytes shared by every subscription's pump of a server. One
 * append wakes the pumps of all its subscribers at once; unchecked, each
 * writes its batch in that same turn of the event loop, so a 1 MB event read
 * by 128 streams is 128 MB copied into the kernel before the server reads
 * another request (~500 ms on two cores, every other client waiting). Pumps
 * take a batch only while the allowance lasts; once it is spent they wait for
 * the next turn, which renews it, and the requests that arrived meanwhile are
 * served between the slices of the fan-out. A pump that was let in always
 * sends what it took, so one batch may overrun the allowance; the order of
 * events on each stream is untouched.
 */
export class FairShare {
  readonly bytesPerTurn: number;
  readonly #schedule: TurnScheduler;
  #spent = 0;
  #turnScheduled = false;
  #next: Promise<void> | undefined;
  #resolveNext: (() => void) | undefined;

  constructor(bytesPerTurn = FAIR_SHARE_BYTES, schedule: TurnScheduler = nextTurnOfLoop) {
    this.bytesPerTurn = bytesPerTurn;
    this.#schedule = schedule;
  }

  /** Whether this turn's allowance is used up: take nothing more before {@link FairShare.nextTurn}. */
  get exhausted(): boolean {
    return this.#spent >= this.bytesPerTurn;
  }

  /**
   * Count `bytes` written. The allowance is renewed in the turn after it ran
   * out, so a steady stream costs one deferred callback per allowance written,
   * not one per turn.
   */
  spend(bytes: number): void {
    this.#spent += bytes;
    if (this.exhausted) this.#scheduleTurn();
  }

  /**
   * Resolves in the next turn, with a fresh allowance. Every waiter of a turn
   * shares one promise and resumes in the order it asked; a waiter whose
   * subscription ended meanwhile learns it then, at most one turn later.
   */
  nextTurn(): Promise<void> {
    this.#scheduleTurn();
    return (this.#next ??= new Promise((resolve) => (this.#resolveNext = resolve)));
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    this.#schedule(() => {
      this.#turnScheduled = false;
      this.#spent = 0;
      const resolve = this.#resolveNext;
      this.#next = this.#resolveNext = undefined;
      resolve?.();
    });
  }
}
