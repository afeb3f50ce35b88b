/**
 * Runs the browser example's end-to-end scenarios in one engine: the agent
 * server behind a fault proxy, the page on its own origin (so CORS is
 * exercised), the browser through its adapter, and teardown of all of it.
 */
import { readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import type { BrowserDriver, BrowserTab } from '../support/browser-drivers/browser-driver.js';
import type { EngineSetup } from '../support/browser-drivers/engines.js';
import { requireBinaries } from '../support/require-binary.js';
import { BROWSER_SCENARIOS, HOST_ALIAS, REPLY } from './browser-scenarios.js';
import { root } from './support.js';

/** Tokens the test server accepts: `token-<user>` authenticates as `<user>`. */
export const TOKEN_PREFIX = 'token-';

/** How long one step (a wait for the page to show something) may take before it fails with what the page showed. */
const STEP_MS = 10_000;

/** `hang` → `tick` every 100 ms until canceled; anything else → {@link REPLY}, a word every 60 ms. */
async function* agent({ prompt, signal }: { prompt: string; signal: AbortSignal }) {
  const words = REPLY.match(/\s*\S+/g)!;
  for (let i = 0; prompt === 'hang' || i < words.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, prompt === 'hang' ? 100 : 60));
    if (signal.aborted) return;
    yield { type: 'delta' as const, text: prompt === 'hang' ? 'tick ' : words[i]! };
  }
}

/**
 * Put first in the page's `<head>`: collects what would otherwise only reach
 * a console (uncaught errors, failed script loads, unhandled rejections,
 * `console.error`) into `window.pageErrors`, the same way in every engine.
 */
const ERROR_COLLECTOR = `<script>
  window.pageErrors = [];
  addEventListener('error', (e) => pageErrors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
  addEventListener('unhandledrejection', (e) => pageErrors.push('unhandled rejection: ' + ((e.reason && e.reason.message) || e.reason)));
  const consoleError = console.error;
  console.error = (...args) => { pageErrors.push('console.error: ' + args.join(' ')); consoleError.apply(console, args); };
</script>`;

/** One turn as the transcript shows it. */
export interface TurnView {
  state: string;
  prompt: string;
  reply: string;
  end: string;
}

/** The browser example in one tab, read the same way in every engine. */
export class ExamplePage {
  constructor(
    readonly tab: BrowserTab,
    readonly label: string,
  ) {}

  /** Polls `fn(arg)` in the page until it returns true; on timeout, fails naming `what` and what the page showed. */
  async waitFor<A>(what: string, fn: (arg: A) => boolean, arg: A, timeoutMs = STEP_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.tab.evaluate(fn, arg))) {
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${what} within ${timeoutMs} ms; the page showed ${await this.#describe()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  text(selector: string): Promise<string | null> {
    return this.tab.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);
  }

  /** Whether the element matching `selector` is disabled. */
  disabled(selector: string): Promise<boolean> {
    return this.tab.evaluate((s) => (document.querySelector(s) as HTMLButtonElement).disabled, selector);
  }

  turns(): Promise<TurnView[]> {
    return this.tab.evaluate(
      () =>
        [...document.querySelectorAll<HTMLElement>('.turn')].map((turn) => ({
          state: turn.dataset.state ?? '',
          prompt: turn.querySelector('.prompt')?.textContent ?? '',
          reply: turn.querySelector('.reply')?.textContent ?? '',
          end: turn.querySelector('.end')?.textContent ?? '',
        })),
      undefined,
    );
  }

  /** Waits until the status indicator says `text`. */
  async online(text: string): Promise<void> {
    await this.waitFor(`status "${text}"`, (t) => document.getElementById('status')?.textContent === t, text);
  }

  /** Waits until turn number `index` (0-based) is in `state`; fails at once if the page shows a notice instead. */
  async turnReaches(index: number, state: string): Promise<TurnView> {
    await this.waitFor(
      `turn ${index} ${state}`,
      ({ index: i, state: s }) =>
        document.querySelectorAll<HTMLElement>('.turn')[i]?.dataset.state === s || !!document.getElementById('notice')?.textContent,
      { index, state },
    );
    expect(await this.text('#notice'), `${this.label}: notice`).toBe('');
    return (await this.turns())[index]!;
  }

  /**
   * A real click that is known to have reached `selector`. A click lands at
   * the coordinates the element had a moment before; while a reply streams the
   * transcript grows and pushes the form down, so a click can miss (seen in
   * WebKit). A missed click is tried again, up to three times.
   */
  async click(selector: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.tab.evaluate((s) => {
        const w = window as unknown as { clicked: boolean };
        w.clicked = false;
        document.querySelector(s)!.addEventListener('click', () => (w.clicked = true), { once: true });
      }, selector);
      await this.tab.click(selector);
      if (await this.tab.evaluate(() => (window as unknown as { clicked: boolean }).clicked, undefined)) return;
      if (attempt === 3) throw new Error(`${this.label}: three clicks on ${selector} did not reach it`);
    }
  }

  /** Types a prompt and presses Send; returns the index its turn will have. */
  async send(text: string): Promise<number> {
    const index = (await this.turns()).length;
    await this.tab.type('#prompt', text);
    await this.click('#send');
    return index;
  }

  errors(): Promise<string[]> {
    return this.tab.evaluate(() => (window as unknown as { pageErrors: string[] }).pageErrors, undefined);
  }

  async #describe(): Promise<string> {
    try {
      return JSON.stringify({
        status: await this.text('#status'),
        notice: await this.text('#notice'),
        turns: await this.turns(),
        errors: await this.errors(),
      });
    } catch (error) {
      return `(unreadable: ${(error as Error).message})`;
    }
  }
}

/** What every scenario gets. */
export interface ScenarioContext {
  driver: BrowserDriver;
  /** The first tab, open on a new session over WebSocket; scenarios run in order and share it. */
  main: ExamplePage;
  /** The page's URL (on 127.0.0.1) with `?api=` pointing at the fault proxy. */
  pageUrl: string;
  /** The same page under {@link HOST_ALIAS}, which is not a secure context. */
  aliasPageUrl: string;
  proxy: FaultProxy;
  /** Requests the page server answered with 4xx/5xx. */
  failedPageRequests: string[];
  /** Opens another tab on `url` (as a new user with a valid token, unless `token` is given) and waits for it to load. Close it in a `finally`. */
  openTab(url: string, label: string, token?: string): Promise<ExamplePage>;
}

/** A `.test.ts` file per engine calls this; the scenarios are the same for all. */
export function describeBrowserSuite(setup: EngineSetup): void {
  const suite = `browser end-to-end in ${setup.title}`;
  const paths = requireBinaries(suite, setup.needs);

  describe.skipIf(!paths)(`examples/browser in ${setup.title}`, () => {
    let server: ReturnType<typeof createServer> | undefined;
    let pages: HttpServer | undefined;
    const ctx = { failedPageRequests: [] as string[] } as ScenarioContext;

    beforeAll(async () => {
      const load = (path: string) => import(pathToFileURL(join(root, path)).href);
      const { buildBrowserBundle } = await load('scripts/build-browser.mjs');
      const bundle: string = await buildBrowserBundle({ write: false });
      // Browser-safe: nothing from Node in the bundle of the `agent-tether` entry.
      expect(bundle).not.toMatch(/\bfrom\s*["'](node:|ws["'])|require\(/);
      const html = (await readFile(join(root, 'examples/browser/index.html'), 'utf8')).replace('<head>', `<head>\n${ERROR_COLLECTOR}`);

      // Authentication on, as a deployed server would have it: every tab has its own token
      // (`token-<user>` → principal `<user>`, see openTab), any user may use any session here.
      const pageOrigins = new Set<string>();
      server = createServer({
        agent,
        authenticate: ({ token }) => (token?.startsWith(TOKEN_PREFIX) ? { id: token.slice(TOKEN_PREFIX.length) } : null),
        authorize: () => true,
        allowedOrigins: (origin) => pageOrigins.has(origin),
      });
      const { url } = await server.listen(0, '127.0.0.1');
      ctx.proxy = await createFaultProxy({ target: url }).listen();

      const { createPageServer } = await load('examples/browser/page-server.mjs');
      pages = createPageServer({ files: { '/agent-tether.js': bundle, '/index.html': html } }) as HttpServer;
      pages.on('request', (req, res) => {
        res.once('finish', () => {
          if (res.statusCode >= 400) ctx.failedPageRequests.push(`${res.statusCode} ${req.url}`);
        });
      });
      await new Promise<void>((resolve) => pages!.listen(0, '127.0.0.1', resolve));
      const port = (pages.address() as AddressInfo).port;
      const query = `?api=${encodeURIComponent(ctx.proxy.url)}`;
      ctx.pageUrl = `http://127.0.0.1:${port}/${query}`;
      ctx.aliasPageUrl = `http://${HOST_ALIAS}:${port}/${query}`;
      pageOrigins.add(`http://127.0.0.1:${port}`).add(`http://${HOST_ALIAS}:${port}`);

      ctx.driver = await setup.launch(paths!, { hostAliases: [HOST_ALIAS] });
      let tabs = 0;
      ctx.openTab = async (pageUrl, label, token) => {
        const page = new ExamplePage(await ctx.driver.newTab(), `${setup.title} ${label}`);
        // Each tab its own user and token, in the fragment (which the page reads and never sends).
        const user = `tab${++tabs}`;
        await page.tab.goto(`${pageUrl.split('#')[0]}#token=${encodeURIComponent(token ?? TOKEN_PREFIX + user)}&user=${user}`);
        return page;
      };
      ctx.main = await ctx.openTab(ctx.pageUrl, 'first tab');
      await ctx.main.waitFor('open connection', () => document.getElementById('status')?.dataset.status === 'open', undefined);
    }, 90_000);

    afterAll(async () => {
      // Each step even if an earlier one failed, so nothing outlives the suite.
      const results = await Promise.allSettled([
        ctx.driver?.close(),
        pages &&
          new Promise((resolve) => {
            pages!.closeAllConnections();
            pages!.close(resolve);
          }),
      ]);
      await ctx.proxy?.close();
      await server?.close();
      for (const result of results) if (result.status === 'rejected') throw result.reason;
    }, 30_000);

    for (const scenario of BROWSER_SCENARIOS) it(scenario.name, () => scenario.run(ctx), 60_000);
  });
}
