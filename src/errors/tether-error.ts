/** Options accepted by every agent-tether error. */
export interface TetherErrorOptions {
  /** The underlying error, kept for debugging. */
  cause?: unknown;
}

/**
 * Base class of every error agent-tether throws or reports. Each subclass has
 * a fixed `name` and a string `code` callers can switch on.
 *
 * @example
 * try { await session.prompt('hi'); }
 * catch (error) { if (error instanceof TetherError) console.log(error.code); }
 */
export class TetherError extends Error {
  override name = 'TetherError';
  /** A stable, machine-readable code. */
  readonly code: string;

  constructor(code: string, message: string, options: TetherErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
