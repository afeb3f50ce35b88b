/** The adapter for engines puppeteer-core drives: Chromium over the DevTools protocol, Firefox over WebDriver BiDi. */
import type { Browser, Page } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import type { BrowserDriver, BrowserEngine, BrowserTab } from './browser-driver.js';

/** How {@link launchPuppeteer} starts the browser. puppeteer-core never downloads one: `executablePath` is Debian's. */
export interface PuppeteerLaunch {
  engine: Extract<BrowserEngine, 'chromium' | 'firefox'>;
  executablePath: string;
  args?: string[];
  /** Firefox preferences (ignored by Chromium). */
  firefoxPrefs?: Record<string, unknown>;
}

/** Starts the browser headless and wraps it as a {@link BrowserDriver}. */
export async function launchPuppeteer({ engine, executablePath, args = [], firefoxPrefs }: PuppeteerLaunch): Promise<BrowserDriver> {
  const browser: Browser = await puppeteer.launch({
    browser: engine === 'firefox' ? 'firefox' : 'chrome',
    executablePath,
    headless: true,
    args,
    ...(firefoxPrefs ? { extraPrefsFirefox: firefoxPrefs } : {}),
    // The steps bound their own waits; a hung protocol call fails within this.
    protocolTimeout: 30_000,
  });
  return {
    engine,
    newTab: async () => tab(await browser.newPage()),
    close: () => browser.close(),
  };
}

function tab(page: Page): BrowserTab {
  return {
    goto: async (url) => {
      await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
    },
    url: async () => page.url(),
    evaluate: <A, R>(fn: (arg: A) => R, arg: A) => page.evaluate(fn as (arg: unknown) => R, arg) as Promise<R>,
    // Input goes to the tab in front (a background tab throttles the frames a click waits for).
    click: async (selector) => {
      await page.bringToFront();
      await page.click(selector);
    },
    type: async (selector, text) => {
      await page.bringToFront();
      await page.$eval(selector, (field) => {
        (field as HTMLInputElement).value = '';
      });
      await page.type(selector, text);
    },
    close: () => page.close(),
  };
}
