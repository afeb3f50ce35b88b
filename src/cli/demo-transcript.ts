/** What `agent-tether demo` prints: the transcript writer and the failure that ends a step. */

/** A check that did not hold; ends the demo with a failure. */
export class DemoFailure extends Error {
  override readonly name = 'DemoFailure';
}

/**
 * Writes the transcript. A streamed reply is written inline; a line printed in
 * the middle of one (a state change) breaks it, and the reply resumes under
 * its prefix.
 */
export class Transcript {
  #midLine = false;
  #stream: string | undefined;
  #resume = false;
  #sealed = false;
  constructor(readonly write: (text: string) => void) {}
  /** Writes `text` as the last line; anything after it (a step still unwinding after a failure) is dropped. */
  final(text: string): void {
    this.line('');
    this.line(text);
    this.#sealed = true;
  }
  /** A step's heading: `[n/total] title`, after a blank line. */
  heading(n: number, total: number, title: string): void {
    this.line('');
    this.line(`[${n}/${total}] ${title}`);
  }
  /** Starts a streamed line, e.g. `  agent ‹ `. */
  startStream(prefix: string): void {
    this.line();
    this.#stream = prefix;
    this.#emit(prefix);
  }
  /** Part of the streamed line (a delta). */
  inline(text: string): void {
    if (this.#resume && this.#stream !== undefined) this.#emit(`${this.#stream}…`);
    this.#resume = false;
    this.#emit(text);
  }
  /** Ends the streamed line. */
  endStream(): void {
    this.#stream = undefined;
    this.#resume = false;
    if (this.#midLine) this.#emit('\n');
  }
  /** A whole line, starting on a fresh one (with no text: just end the current line, if any). */
  line(text?: string): void {
    if (text === undefined) {
      if (this.#midLine) this.#emit('\n');
      return;
    }
    if (this.#midLine) {
      this.#emit('\n');
      if (this.#stream !== undefined) this.#resume = true;
    }
    this.#emit(`${text}\n`);
  }
  /** A check that held: `  ✓ text`. */
  ok(text: string): void {
    this.line(`  ✓ ${text}`);
  }
  /** Writes `ok` when `condition` holds; otherwise ends the step with `failure`. */
  check(condition: unknown, ok: string, failure: string): void {
    if (!condition) throw new DemoFailure(failure);
    this.ok(ok);
  }
  #emit(text: string): void {
    if (text === '' || this.#sealed) return;
    this.write(text);
    this.#midLine = !text.endsWith('\n');
  }
}
