/**
 * The browser example's end-to-end scenarios, one list for every engine (run
 * by browser-harness.ts), so a scenario cannot drift between engines. They
 * run in order and share the first tab.
 */
import { expect } from 'vitest';
import type { ScenarioContext } from './browser-harness.js';

/** What the test agent streams for any prompt but `hang`. */
export const REPLY = 'Hello from the agent, streamed to your browser word by word.';

/** A host name (mapped to 127.0.0.1 by the browser) whose pages are not a secure context. */
export const HOST_ALIAS = 'tether.test';

/** One scenario: a name, and steps through {@link ScenarioContext}. */
export interface BrowserScenario {
  name: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Streams a turn and stops another in a new tab narrowed to `transport`. */
const aloneOver = (transport: 'sse' | 'poll'): BrowserScenario => ({
  name: `streams a turn and stops another over ${transport} alone`,
  async run({ openTab, pageUrl }) {
    const tab = await openTab(`${pageUrl}&transports=${transport}`, `${transport} tab`);
    try {
      await tab.online(`● online (${transport})`);
      expect((await tab.turnReaches(await tab.send('hello'), 'completed')).reply).toBe(REPLY);
      const hanging = await tab.send('hang');
      await tab.turnReaches(hanging, 'running');
      await tab.click('#stop');
      expect((await tab.turnReaches(hanging, 'canceled')).end).toBe('canceled by you');
      expect(await tab.tab.evaluate(() => document.getElementById('status')!.dataset.transport, undefined)).toBe(transport);
      expect(await tab.errors()).toEqual([]);
    } finally {
      await tab.tab.close();
    }
  },
});

/** A tab whose token the server refuses: told once, no retry loop. */
const refusedToken: BrowserScenario = {
  name: 'a tab with a token the server refuses says so and does not retry',
  async run({ openTab, pageUrl }) {
    const tab = await openTab(pageUrl, 'refused tab', 'not-a-valid-token');
    try {
      await tab.waitFor('the refusal', () => /refused your credentials \(unauthorized\)/.test(document.getElementById('notice')?.textContent ?? ''), undefined);
      // Still idle a moment later: no reconnect loop.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const log = await tab.tab.evaluate(() => [...document.querySelectorAll<HTMLElement>('#connection-log li')].map((li) => li.dataset.status), undefined);
      expect(log.filter((s) => s === 'reconnecting')).toEqual([]);
    } finally {
      await tab.tab.close();
    }
  },
};

export const BROWSER_SCENARIOS: readonly BrowserScenario[] = [
  {
    name: 'connects, sends a prompt and streams the reply into the transcript',
    async run({ main }) {
      await main.online('● online (websocket)');
      // Record every text the reply shows, to prove it streamed.
      await main.tab.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { replies: string[] }).replies = seen;
        new MutationObserver(() => {
          const reply = document.querySelector('.turn:last-child .reply');
          if (reply?.textContent && reply.textContent !== seen.at(-1)) seen.push(reply.textContent);
        }).observe(document.getElementById('transcript')!, { subtree: true, childList: true, characterData: true });
      }, undefined);

      const turn = await main.turnReaches(await main.send('hello'), 'completed');
      expect(turn).toEqual({ state: 'completed', prompt: 'you › hello', reply: REPLY, end: 'done' });
      // It arrived in pieces: the reply showed partial text before the whole.
      const replies = await main.tab.evaluate(() => (window as unknown as { replies: string[] }).replies, undefined);
      expect(replies.length).toBeGreaterThan(3);
      expect(replies.at(-1)).toBe(REPLY);
      expect(REPLY.startsWith(replies[0]!) && replies[0] !== REPLY).toBe(true);
      expect(await main.disabled('#stop')).toBe(true);
    },
  },
  {
    name: 'Stop cancels a running turn and the transcript shows it canceled',
    async run({ main }) {
      const index = await main.send('hang');
      await main.turnReaches(index, 'running');
      await main.waitFor('a tick', (i) => /^tick/.test(document.querySelectorAll('.turn .reply')[i]?.textContent ?? ''), index);
      expect(await main.disabled('#stop')).toBe(false);

      await main.click('#stop');
      expect((await main.turnReaches(index, 'canceled')).end).toBe('canceled by you');
      expect(await main.disabled('#stop')).toBe(true);
    },
  },
  {
    name: 'shows reconnecting when the connection is cut, recovers, and a new prompt works',
    async run({ main, proxy, failedPageRequests }) {
      // Record every state the indicator shows from now on.
      const logged = await main.tab.evaluate(() => {
        const status = document.getElementById('status')!;
        const shown: string[] = [];
        (window as unknown as { shown: string[] }).shown = shown;
        new MutationObserver(() => shown.push(`${status.dataset.status}: ${status.textContent}`)).observe(status, {
          attributes: true,
          childList: true,
          characterData: true,
          subtree: true,
        });
        return document.querySelectorAll('#connection-log li').length;
      }, undefined);
      expect(proxy.reset()).toBeGreaterThan(0);

      // The indicator shows the drop, then recovers.
      await main.waitFor(
        'reconnecting, then open',
        () => {
          const shown = (window as unknown as { shown: string[] }).shown;
          const drop = shown.findIndex((s) => s.startsWith('reconnecting'));
          return drop >= 0 && document.getElementById('status')!.dataset.status === 'open';
        },
        undefined,
      );
      const shown = await main.tab.evaluate(() => (window as unknown as { shown: string[] }).shown, undefined);
      expect(shown.find((s) => s.startsWith('reconnecting'))).toMatch(/^reconnecting: ◌ reconnecting \(attempt \d+\)…$/);
      expect(shown.at(-1)).toMatch(/^open: ● online \((websocket|sse|poll)\)$/);
      // The connection log (under "Connection log") tells the same story.
      const log = await main.tab.evaluate(
        (from) => [...document.querySelectorAll<HTMLElement>('#connection-log li')].slice(from).map((li) => li.dataset.status),
        logged,
      );
      expect(log[0]).toBe('reconnecting');
      expect(log.at(-1)).toBe('open');

      const index = await main.send('hello again');
      expect(await main.turnReaches(index, 'completed')).toEqual({
        state: 'completed',
        prompt: 'you › hello again',
        reply: REPLY,
        end: 'done',
      });
      expect(index).toBe(2);
      expect(await main.errors()).toEqual([]);
      expect(failedPageRequests).toEqual([]);
    },
  },
  // The fetch-based transports: streamed response bodies (SSE), long-poll
  // replies, the CORS preflights of their headers, and commands over HTTP.
  // Each tab passes its token on every transport: the WebSocket above (a subprotocol), SSE and long-poll here (a header).
  aloneOver('sse'),
  aloneOver('poll'),
  refusedToken,
  {
    name: "a second tab rejoins the session from the URL, sees the whole transcript, and can stop the first tab's turn",
    async run({ main, openTab }) {
      // The first tab put its session in the URL.
      const url = await main.tab.url();
      expect(new URL(url).searchParams.get('session')).toMatch(/\S+/);
      const second = await openTab(url, 'second tab');
      try {
        await second.waitFor('open connection', () => document.getElementById('status')?.dataset.status === 'open', undefined);
        // The same turns, states and replies (only the "you" in prompts differs between tabs).
        const shown = (turns: { state: string; reply: string }[]) => turns.map(({ state, reply }) => `${state}|${reply}`);
        const before = shown(await main.turns());
        await second.waitFor('the whole transcript', (n) => document.querySelectorAll('.turn').length === n, before.length);
        expect(shown(await second.turns())).toEqual(before);

        // The first tab starts a turn; the second tab stops it.
        const index = await main.send('hang');
        const mirrored = await second.turnReaches(index, 'running');
        expect(mirrored.prompt).not.toMatch(/^you /);
        await second.click('#stop');
        expect((await second.turnReaches(index, 'canceled')).end).toBe('canceled by you');
        expect((await main.turnReaches(index, 'canceled')).end).toMatch(/^canceled by (?!you$)\S+/);
        expect(await second.errors()).toEqual([]);
        expect(await main.errors()).toEqual([]);
      } finally {
        await second.tab.close();
      }
    },
  },
  {
    name: `streams a turn from a page on http://${HOST_ALIAS}, which is not a secure context`,
    async run({ openTab, aliasPageUrl, proxy }) {
      const tab = await openTab(aliasPageUrl, `${HOST_ALIAS} tab`);
      try {
        // The point of the scenario: no crypto.randomUUID on this page.
        expect(await tab.tab.evaluate(() => [window.isSecureContext, typeof crypto.randomUUID], undefined)).toEqual([false, 'undefined']);
        await tab.online('● online (websocket)');
        expect(await tab.turnReaches(await tab.send('hello'), 'completed')).toEqual({
          state: 'completed',
          prompt: 'you › hello',
          reply: REPLY,
          end: 'done',
        });
        // createClient() with no clientId of its own makes one here too.
        // (A module script of the page's own, since the test runner rewrites `import()` in functions.)
        await tab.tab.evaluate((baseUrl) => {
          const script = document.createElement('script');
          script.type = 'module';
          script.textContent = `
            import { createClient } from './agent-tether.js';
            try {
              const client = createClient({ baseUrl: ${JSON.stringify(baseUrl)} });
              window.defaultClientId = client.clientId;
              await client.close();
            } catch (error) {
              window.defaultClientId = 'threw ' + error.message;
            }`;
          document.head.append(script);
        }, proxy.url);
        await tab.waitFor('a default client id', () => 'defaultClientId' in window, undefined);
        expect(await tab.tab.evaluate(() => (window as unknown as { defaultClientId: string }).defaultClientId, undefined)).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        expect(await tab.errors()).toEqual([]);
      } finally {
        await tab.tab.close();
      }
    },
  },
];
