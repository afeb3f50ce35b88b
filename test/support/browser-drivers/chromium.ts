/** Headless Chromium (Debian's `chromium`) through puppeteer-core. */
import type { BrowserDriver, LaunchOptions } from './browser-driver.js';
import { launchPuppeteer } from './puppeteer.js';

/** Launches Chromium at `executablePath`, headless, without background traffic; host aliases through `--host-resolver-rules`. */
export function launchChromium(executablePath: string, { hostAliases = [] }: LaunchOptions = {}): Promise<BrowserDriver> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ];
  if (hostAliases.length > 0) {
    args.push(`--host-resolver-rules=${hostAliases.map((host) => `MAP ${host} 127.0.0.1`).join(', ')}`);
  }
  return launchPuppeteer({ engine: 'chromium', executablePath, args });
}
