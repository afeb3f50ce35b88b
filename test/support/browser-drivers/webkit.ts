/**
 * WebKit: WebKitGTK's MiniBrowser (Debian's `webkit2gtk-driver`) through its
 * WebKitWebDriver server and selenium-webdriver, on a private Xvfb display
 * (MiniBrowser's own `--headless` does not start).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Builder, By, type WebDriver } from 'selenium-webdriver';
import type { BrowserDriver, BrowserTab, LaunchOptions } from './browser-driver.js';
import { startHostAliasProxy } from './host-alias-proxy.js';
import { startXvfb, stopChild } from './xvfb.js';

/** The binaries the WebKit adapter starts. */
export interface WebKitBinaries {
  webKitWebDriver: string;
  miniBrowser: string;
  xvfb: string;
}

/**
 * Starts Xvfb, WebKitWebDriver on a free loopback port, and a MiniBrowser
 * session through it. WebKitGTK has no switch to map host names, so host
 * aliases go through a forward proxy for those names.
 */
export async function launchWebKit(binaries: WebKitBinaries, options: LaunchOptions = {}): Promise<BrowserDriver> {
  // A MiniBrowser that dies while starting leaves WebKitWebDriver waiting for it with no
  // timeout of its own: the session request never answers (twice on 2026-12-02, once in a CI
  // run at load ~3, with no MiniBrowser process left; 0 of 12 launches in a row after). So the
  // session request is bounded, and a launch that hit that bound is torn down and made once
  // more, saying so. Only the start of the browser is repeated, never a test step.
  try {
    return await launchOnce(binaries, options);
  } catch (error) {
    if (!(error instanceof SessionStartTimeout)) throw error;
    console.warn(`webkit: ${error.message}; starting Xvfb, WebKitWebDriver and MiniBrowser once more`);
    return launchOnce(binaries, options);
  }
}

/** The WebDriver session did not start in time (MiniBrowser died or hung while starting). */
class SessionStartTimeout extends Error {
  override name = 'SessionStartTimeout';
}

/** Normal starts take ~1.5 s on this kind of machine; a loaded CI machine gets ample room. */
const SESSION_START_MS = 30_000;

async function launchOnce(binaries: WebKitBinaries, { hostAliases = [] }: LaunchOptions): Promise<BrowserDriver> {
  const stops: (() => Promise<void>)[] = [];
  // Every stop runs even if one before it fails, so no Xvfb or WebKitWebDriver outlives a failed launch.
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    const xvfb = await startXvfb(binaries.xvfb);
    stops.push(() => xvfb.stop());

    const port = await freePort();
    // Its own process group, so the MiniBrowser it starts goes with it.
    const server: ChildProcess = spawn(binaries.webKitWebDriver, [`--port=${port}`, '--host=local'], {
      env: { ...process.env, DISPLAY: xvfb.display },
      stdio: 'ignore',
      detached: true,
    });
    const serverExited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    stops.push(async () => {
      if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) {
        try {
          process.kill(-server.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
      await stopChild(server, serverExited);
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForStatus(url, serverExited);

    let proxy: { proxyType: 'manual'; httpProxy: string; noProxy: string[] } | undefined;
    if (hostAliases.length > 0) {
      const aliases = await startHostAliasProxy(hostAliases);
      stops.push(() => aliases.close());
      proxy = { proxyType: 'manual', httpProxy: aliases.address, noProxy: ['127.0.0.1', 'localhost'] };
    }

    const starting = new Builder()
      .usingServer(url)
      .withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: binaries.miniBrowser, args: ['--automation'] },
        ...(proxy ? { proxy } : {}),
      })
      .build();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const driver = await Promise.race([
      Promise.resolve(starting),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SessionStartTimeout(`no MiniBrowser session within ${SESSION_START_MS} ms`)), SESSION_START_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    stops.push(async () => {
      await driver.quit().catch(() => {});
    });
    await driver.manage().setTimeouts({ pageLoad: 20_000, script: 10_000 });
    return webKitDriver(driver, await driver.getWindowHandle(), stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** WebDriver has one current window per session: every call switches to its tab first, one call at a time. */
function webKitDriver(driver: WebDriver, firstWindow: string, stopAll: () => Promise<void>): BrowserDriver {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(step: () => Promise<T>): Promise<T> => {
    const run = queue.then(step, step);
    queue = run.catch(() => {});
    return run;
  };
  let unused: string | undefined = firstWindow;
  const open = new Set<string>([firstWindow]);

  const tab = (handle: string): BrowserTab => {
    const on = <T>(step: () => Promise<T>) =>
      serial(async () => {
        await driver.switchTo().window(handle);
        return step();
      });
    return {
      goto: (url) => on(() => driver.get(url)),
      url: () => on(() => driver.getCurrentUrl()),
      evaluate: <A, R>(fn: (arg: A) => R, arg: A) => on(() => driver.executeScript<R>(fn as (arg: unknown) => R, arg)),
      click: (selector) => on(() => driver.findElement(By.css(selector)).click()),
      type: (selector, text) =>
        on(async () => {
          const field = driver.findElement(By.css(selector));
          await field.clear();
          await field.sendKeys(text);
        }),
      close: () =>
        serial(async () => {
          open.delete(handle);
          // The session ends with its last window: keep one, blank, for the next tab.
          if (open.size === 0) {
            await driver.switchTo().window(handle);
            await driver.get('about:blank');
            open.add(handle);
            unused = handle;
            return;
          }
          await driver.switchTo().window(handle);
          await driver.close();
          await driver.switchTo().window([...open][0]!);
        }),
    };
  };

  return {
    engine: 'webkit',
    newTab: () =>
      serial(async () => {
        if (unused) {
          const handle = unused;
          unused = undefined;
          return tab(handle);
        }
        await driver.switchTo().newWindow('tab');
        const handle = await driver.getWindowHandle();
        open.add(handle);
        return tab(handle);
      }),
    close: stopAll,
  };
}

/** A port free on 127.0.0.1 right now (WebKitWebDriver cannot be told to pick one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Waits until the WebDriver server answers `/status`, failing early if it exits. */
async function waitForStatus(url: string, exited: Promise<void>, timeoutMs = 15_000): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error('WebKitWebDriver exited before it answered');
    try {
      if ((await fetch(`${url}/status`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`WebKitWebDriver did not answer at ${url} within ${timeoutMs} ms`);
}
