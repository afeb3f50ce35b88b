/** Per-key tickets: of the calls for one key still in flight, only the latest may act when it completes. */
export class LatestWins {
  #count = 0;
  readonly #current = new Map<string, number>();

  /** A ticket for a new call on `key`; every earlier ticket for `key` is superseded. */
  take(key: string): number {
    const ticket = ++this.#count;
    this.#current.set(key, ticket);
    return ticket;
  }

  /** Whether `ticket` is still the latest for `key`. */
  isCurrent(key: string, ticket: number): boolean {
    return this.#current.get(key) === ticket;
  }
}
