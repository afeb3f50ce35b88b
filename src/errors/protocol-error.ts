import { TetherError, type TetherErrorOptions } from './tether-error.js';

/**
 * A frame or reply broke the protocol: not JSON, schema-invalid, too large.
 * Reported on `client.on('error')` (and followed by a reconnect) when it
 * arrives on a stream; never thrown from a socket callback.
 *
 * @example
 * client.on('error', (error) => { if (error instanceof ProtocolError) log(error.message); });
 */
export class ProtocolError extends TetherError {
  override name = 'ProtocolError';

  constructor(message: string, options: TetherErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'protocol_error', message, options);
  }
}
