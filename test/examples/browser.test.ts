import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { root } from './support.js';

// Debian's `chromium` package (installed by .ci/run). Never downloaded here.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPLY = 'Hello from the agent, streamed to your browser word by word.';

/** `hang` → `tick` every 100 ms until canceled; anything else → {@link REPLY}, a word every 60 ms. */
async function* agent({ prompt, signal }: { prompt: string; signal: AbortSignal }) {
  const words = REPLY.match(/\s*\S+/g)!;
  for (let i = 0; prompt === 'hang' || i < words.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, prompt === 'hang' ? 100 : 60));
    if (signal.aborted) return;
    yield { type: 'delta' as const, text: prompt === 'hang' ? 'tick ' : words[i]! };
  }
}

// JavaScript modules of the example and the bundle script, loaded as they are.
const load = (path: string) => import(pathToFileURL(join(root, path)).href);

describe('examples/browser in headless Chromium', () => {
  let server: ReturnType<typeof createServer>;
  let proxy: FaultProxy;
  let pages: HttpServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: the browser end-to-end test needs Debian's chromium package ` +
          '(apt-get install chromium) or CHROMIUM_PATH pointing at a Chromium binary.',
      );
    }
    const { buildBrowserBundle } = await load('scripts/build-browser.mjs');
    const bundle: string = await buildBrowserBundle({ write: false });
    // Browser-safe: nothing from Node in the bundle of the `agent-tether` entry.
    expect(bundle).not.toMatch(/\bfrom\s*["'](node:|ws["'])|require\(/);

    server = createServer({ agent });
    const { url } = await server.listen(0, '127.0.0.1');
    proxy = await createFaultProxy({ target: url }).listen();

    // The page on its own origin; the API (through the fault proxy) on another: CORS is exercised.
    const { createPageServer } = await load('examples/browser/page-server.mjs');
    pages = createPageServer({ files: { '/agent-tether.js': bundle } });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}/?api=${encodeURIComponent(proxy.url)}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    page = await browser.newPage();
    // Fail a step with a clear error well within the test's own timeout.
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(pageUrl);
    await page.waitForSelector('#status[data-status="open"]');
  }, 60_000);
  let pageUrl = '';

  afterAll(async () => {
    await browser?.close();
    if (pages) {
      pages.closeAllConnections();
      await new Promise((resolve) => pages.close(resolve));
    }
    await proxy?.close();
    await server?.close();
  });

  /** Records every text the reply of the next turn shows, to prove it streamed. */
  const recordReplies = () =>
    page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { replies: string[] }).replies = seen;
      new MutationObserver(() => {
        const reply = document.querySelector('.turn:last-child .reply');
        if (reply?.textContent && reply.textContent !== seen.at(-1)) seen.push(reply.textContent);
      }).observe(document.getElementById('transcript')!, { subtree: true, childList: true, characterData: true });
    });

  async function send(text: string): Promise<void> {
    await page.fill('#prompt', text);
    await page.click('#send');
  }

  it('connects, sends a prompt and streams the reply into the transcript', async () => {
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('● online (websocket)');
    await recordReplies();
    await send('hello');

    const turn = page.locator('.turn').last();
    await turn.locator('xpath=self::*[@data-state="completed"]').waitFor();
    expect(await turn.locator('.prompt').textContent()).toBe('you › hello');
    expect(await turn.locator('.reply').textContent()).toBe(REPLY);
    expect(await turn.locator('.end').textContent()).toBe('done');
    // It arrived in pieces: the reply showed partial text before the whole.
    const replies = await page.evaluate(() => (window as unknown as { replies: string[] }).replies);
    expect(replies.length).toBeGreaterThan(3);
    expect(replies.at(-1)).toBe(REPLY);
    expect(REPLY.startsWith(replies[0]!) && replies[0] !== REPLY).toBe(true);
    expect(await page.locator('#stop').isDisabled()).toBe(true);
  });

  it('Stop cancels a running turn and the transcript shows it canceled', async () => {
    await send('hang');
    const turn = page.locator('.turn').last();
    await turn.locator('xpath=self::*[@data-state="running"]').waitFor();
    await expect.poll(() => turn.locator('.reply').textContent(), { timeout: 10_000 }).toMatch(/^tick/);
    expect(await page.locator('#stop').isEnabled()).toBe(true);

    await page.click('#stop');
    await turn.locator('xpath=self::*[@data-state="canceled"]').waitFor();
    expect(await turn.locator('.end').textContent()).toBe('canceled by you');
    expect(await page.locator('#stop').isDisabled()).toBe(true);
    expect(await page.locator('#notice').textContent()).toBe('');
  });

  it('shows reconnecting when the connection is cut, recovers, and a new prompt works', async () => {
    // Record every state the indicator shows from now on.
    await page.evaluate(() => {
      const status = document.getElementById('status')!;
      const shown: string[] = [];
      (window as unknown as { shown: string[] }).shown = shown;
      new MutationObserver(() => shown.push(`${status.dataset.status}: ${status.textContent}`)).observe(status, {
        attributes: true,
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    const logged = await page.locator('#connection-log li').count();
    expect(proxy.reset()).toBeGreaterThan(0);

    // The indicator shows the drop, then recovers.
    await page.waitForFunction(() =>
      (window as unknown as { shown: string[] }).shown.some((s) => s.startsWith('reconnecting')),
    );
    await page.waitForSelector('#status[data-status="open"]');
    const shown: string[] = await page.evaluate(() => (window as unknown as { shown: string[] }).shown);
    expect(shown.find((s) => s.startsWith('reconnecting'))).toMatch(/^reconnecting: ◌ reconnecting \(attempt \d+\)…$/);
    expect(shown.at(-1)).toMatch(/^open: ● online \((websocket|sse|poll)\)$/);
    // The connection log (under "Connection log") has the same story.
    const log = await page
      .locator('#connection-log li')
      .evaluateAll((items, from) => items.slice(from).map((li) => (li as HTMLElement).dataset.status), logged);
    expect(log[0]).toBe('reconnecting');
    expect(log.at(-1)).toBe('open');

    await send('hello again');
    const turn = page.locator('.turn').last();
    await turn.locator('xpath=self::*[@data-state="completed"]').waitFor();
    expect(await turn.locator('.prompt').textContent()).toBe('you › hello again');
    expect(await turn.locator('.reply').textContent()).toBe(REPLY);
    expect(await page.locator('.turn').count()).toBe(3);
    expect(pageErrors).toEqual([]);
  });

  // The fetch-based transports in a real browser: streamed response bodies (SSE), long-poll
  // replies, the CORS preflights of their headers, and commands over HTTP.
  for (const transport of ['sse', 'poll'] as const) {
    it(`streams a turn and stops another over ${transport} alone`, async () => {
      const tab = await browser.newPage();
      tab.setDefaultTimeout(10_000);
      tab.on('pageerror', (error) => pageErrors.push(`${transport} tab: ${error.message}`));
      try {
        await tab.goto(`${pageUrl}&transports=${transport}`);
        await expect.poll(() => tab.locator('#status').textContent(), { timeout: 10_000 }).toBe(`● online (${transport})`);
        await tab.fill('#prompt', 'hello');
        await tab.click('#send');
        const turn = tab.locator('.turn').last();
        await turn.locator('xpath=self::*[@data-state="completed"]').waitFor();
        expect(await turn.locator('.reply').textContent()).toBe(REPLY);
        await tab.fill('#prompt', 'hang');
        await tab.click('#send');
        const hanging = tab.locator('.turn').last();
        await hanging.locator('xpath=self::*[@data-state="running"]').waitFor();
        await tab.click('#stop');
        await hanging.locator('xpath=self::*[@data-state="canceled"]').waitFor();
        expect(await hanging.locator('.end').textContent()).toBe('canceled by you');
        expect(await tab.locator('#status').getAttribute('data-transport')).toBe(transport);
        expect(pageErrors).toEqual([]);
      } finally {
        await tab.close();
      }
    });
  }

  it('a second tab rejoins the session from the URL, sees the whole transcript, and can stop the first tab\'s turn', async () => {
    const second = await browser.newPage();
    second.setDefaultTimeout(10_000);
    second.on('pageerror', (error) => pageErrors.push(`second tab: ${error.message}`));
    try {
      // The first tab put its session in the URL.
      expect(new URL(page.url()).searchParams.get('session')).toMatch(/\S+/);
      await second.goto(page.url());
      await second.waitForSelector('#status[data-status="open"]');
      const transcript = (p: Page) =>
        p
          .locator('.turn')
          .evaluateAll((turns) =>
            turns.map((t) => `${(t as HTMLElement).dataset.state}|${t.querySelector('.reply')?.textContent}`),
          );
      await expect.poll(() => transcript(second), { timeout: 10_000 }).toEqual(await transcript(page));

      // The first tab starts a turn; the second tab stops it.
      await send('hang');
      const first = page.locator('.turn').last();
      const mirrored = second.locator('.turn').last();
      await mirrored.locator('xpath=self::*[@data-state="running"]').waitFor();
      expect(await mirrored.locator('.prompt').textContent()).not.toMatch(/^you /);
      await second.click('#stop');
      await first.locator('xpath=self::*[@data-state="canceled"]').waitFor();
      await mirrored.locator('xpath=self::*[@data-state="canceled"]').waitFor();
      expect(await mirrored.locator('.end').textContent()).toBe('canceled by you');
      expect(await first.locator('.end').textContent()).toMatch(/^canceled by (?!you$)\S+/);
      expect(pageErrors).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
