export { TetherError, type TetherErrorOptions } from './tether-error.js';
export { ConnectionError } from './connection-error.js';
export { HttpError } from './http-error.js';
export { ProtocolError } from './protocol-error.js';
export { TimeoutError } from './timeout-error.js';
export { ClosedError } from './closed-error.js';
