import { TetherError, type TetherErrorOptions } from './tether-error.js';

/**
 * The client was closed: the call was pending at `close()` or made after it.
 *
 * @example
 * await client.close();
 * await session.prompt('x').catch((e) => e instanceof ClosedError); // true
 */
export class ClosedError extends TetherError {
  override name = 'ClosedError';

  constructor(message = 'The client is closed', options: TetherErrorOptions = {}) {
    super('client_closed', message, options);
  }
}
