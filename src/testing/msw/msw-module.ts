/**
 * msw, loaded only if installed: it is an optional peer dependency that only
 * `createMswHandlers` needs, so `agent-tether/testing` imports without it.
 * (The CommonJS build swaps this file for `msw-module-cjs.ts`, which uses
 * `require`; a top-level `await` exists only in ES modules.)
 */
import type * as Msw from 'msw';
import { mswRequired } from './msw-required.js';

let loaded: typeof Msw | undefined;
let failure: unknown;
try {
  loaded = await import('msw');
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
