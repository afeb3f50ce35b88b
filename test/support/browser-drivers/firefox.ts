/** Headless Firefox ESR (Debian's `firefox-esr`) through puppeteer-core over WebDriver BiDi, with no geckodriver. */
import type { BrowserDriver, LaunchOptions } from './browser-driver.js';
import { launchPuppeteer } from './puppeteer.js';

/** Launches Firefox at `executablePath`, headless; host aliases through the `network.dns.forceResolve` preference. */
export function launchFirefox(executablePath: string, { hostAliases = [] }: LaunchOptions = {}): Promise<BrowserDriver> {
  // forceResolve sends every name to one address; the tests only ever name loopback servers.
  const firefoxPrefs = hostAliases.length > 0 ? { 'network.dns.forceResolve': '127.0.0.1' } : undefined;
  return launchPuppeteer({ engine: 'firefox', executablePath, firefoxPrefs });
}
