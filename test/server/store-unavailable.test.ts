/** The 503 a failing store gives: a message that names the failure, even when the store's error has no message of its own. */
import { describe, expect, it } from 'vitest';
import { storeUnavailable } from '../../src/server/core/store-writer.js';

describe('storeUnavailable', () => {
  it('names the store error', () => {
    const error = storeUnavailable(new Error('EACCES: permission denied'));
    expect(error.toInfo()).toEqual({ code: 'store_unavailable', message: 'The session store cannot save right now: EACCES: permission denied', status: 503 });
    expect(error.headers()).toEqual({ 'Retry-After': '2' });
  });

  it('falls back to the error name when the message is empty (a command timeout)', () => {
    const timeout = new Error('');
    timeout.name = 'TimeoutError';
    expect(storeUnavailable(timeout).message).toBe('The session store cannot save right now: TimeoutError');
  });

  it('says nothing more when the cause is not an error', () => {
    expect(storeUnavailable('gone').message).toBe('The session store cannot save right now');
  });
});
