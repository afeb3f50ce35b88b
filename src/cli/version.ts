/** The installed package's version, for `agent-tether --version`. */
import { createRequire } from 'node:module';

/**
 * Reads `version` from agent-tether's own package.json. Resolved by package
 * self-reference (package.json is in `exports`), so it is right wherever the
 * CLI runs from: dist/ in an install, or a bundle inside the repository.
 */
export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('agent-tether/package.json') as { version: string }).version;
}
