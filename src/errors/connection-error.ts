import { TetherError, type TetherErrorOptions } from './tether-error.js';

/**
 * The server could not be reached, or a connection broke before a reply.
 * `code` is `'connection_failed'` unless a more precise code is given.
 *
 * @example
 * if (error instanceof ConnectionError) showOfflineBanner();
 */
export class ConnectionError extends TetherError {
  override name = 'ConnectionError';

  constructor(message: string, options: TetherErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'connection_failed', message, options);
  }
}
