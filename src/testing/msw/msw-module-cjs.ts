/**
 * The CommonJS build's `msw-module.ts`: msw through `require`, only if
 * installed, so `require('agent-tether/testing')` works without it.
 */
import type * as Msw from 'msw';
import { mswRequired } from './msw-required.js';

let loaded: typeof Msw | undefined;
let failure: unknown;
try {
  loaded = require('msw') as typeof Msw;
} catch (error) {
  failure = error;
}

/**
 * The msw module.
 *
 * @throws {Error} naming the package to install when msw is missing
 */
export function mswModule(): typeof Msw {
  return mswRequired(loaded, failure);
}
