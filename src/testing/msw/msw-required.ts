/** The one answer when msw is missing: what to install. */
import type * as Msw from 'msw';

/**
 * `loaded`, or the error that names the package to install.
 *
 * @throws {Error} when msw could not be loaded (`cause`: why)
 */
export function mswRequired(loaded: typeof Msw | undefined, failure: unknown): typeof Msw {
  if (!loaded) {
    throw new Error('createMswHandlers needs the optional peer dependency `msw` (^3): run `npm install --save-dev msw`', { cause: failure });
  }
  return loaded;
}
