import { TetherError, type TetherErrorOptions } from './tether-error.js';

/**
 * The server answered with a non-2xx status. `code` is the server's error
 * code from the JSON body (e.g. `'not_found'`), or `'http_<status>'`.
 *
 * @example
 * if (error instanceof HttpError && error.status === 404) forgetSession();
 */
export class HttpError extends TetherError {
  override name = 'HttpError';
  /** The HTTP status code. */
  readonly status: number;
  /** The parsed JSON error body's `details`, if any. */
  readonly details: unknown;

  constructor(
    status: number,
    message: string,
    options: TetherErrorOptions & { code?: string; details?: unknown } = {},
  ) {
    super(options.code ?? `http_${status}`, message, options);
    this.status = status;
    this.details = options.details;
  }
}
