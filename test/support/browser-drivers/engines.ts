/** The three browser engines the end-to-end suites run in: what each needs installed, and how to start it. */
import type { BinaryNeed } from '../require-binary.js';
import { CHROMIUM, FIREFOX, MINIBROWSER, WEBKIT_WEBDRIVER, XVFB } from '../system-binaries.js';
import type { BrowserDriver, BrowserEngine, LaunchOptions } from './browser-driver.js';
import { launchChromium } from './chromium.js';
import { launchFirefox } from './firefox.js';
import { launchWebKit } from './webkit.js';

/** One engine: its system binaries (by key) and how to launch it from their paths. */
export interface EngineSetup<K extends string = string> {
  engine: BrowserEngine;
  /** As the suite's title says it: `Chromium`, `Firefox (WebDriver BiDi)`. */
  title: string;
  needs: Readonly<Record<K, BinaryNeed>>;
  launch(paths: Record<K, string>, options?: LaunchOptions): Promise<BrowserDriver>;
}

const define = <K extends string>(setup: EngineSetup<K>): EngineSetup => setup as unknown as EngineSetup;

export const ENGINES = {
  chromium: define({
    engine: 'chromium',
    title: 'Chromium',
    needs: { chromium: CHROMIUM },
    launch: (paths, options) => launchChromium(paths.chromium, options),
  }),
  firefox: define({
    engine: 'firefox',
    title: 'Firefox (WebDriver BiDi)',
    needs: { firefox: FIREFOX },
    launch: (paths, options) => launchFirefox(paths.firefox, options),
  }),
  webkit: define({
    engine: 'webkit',
    title: 'WebKit (WebKitWebDriver, MiniBrowser on Xvfb)',
    needs: { webKitWebDriver: WEBKIT_WEBDRIVER, miniBrowser: MINIBROWSER, xvfb: XVFB },
    launch: (paths, options) => launchWebKit(paths, options),
  }),
} as const satisfies Record<BrowserEngine, EngineSetup>;
