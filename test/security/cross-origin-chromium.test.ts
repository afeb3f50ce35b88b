// A page on another origin, in real Chromium, against a server with authentication: by default it can neither call nor open a WebSocket; a listed origin can do all of it.
import { createServer as createHttpServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserDriver } from '../support/browser-drivers/browser-driver.js';
import { ENGINES } from '../support/browser-drivers/engines.js';
import { requireBinaries } from '../support/require-binary.js';
import { startAuthServer } from './helpers.js';

const paths = requireBinaries('cross-origin security in Chromium', ENGINES.chromium.needs);

/** The four steps of an attack page: create, prompt, read the output, open a WebSocket — each 'ok' or what stopped it. */
async function attack({ api, token }: { api: string; token: string }): Promise<Record<string, string>> {
  const steps: Record<string, string> = {};
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  let sessionId = 'none';
  try {
    const created = await fetch(`${api}/v1/sessions`, { method: 'POST', headers, body: '{}' });
    sessionId = (await created.json()).session.id;
    steps.create = created.status === 201 ? 'ok' : String(created.status);
  } catch (error) {
    steps.create = `blocked: ${String(error)}`;
  }
  try {
    const prompted = await fetch(`${api}/v1/sessions/${sessionId}/turns`, { method: 'POST', headers, body: '{"prompt":"hi"}' });
    steps.prompt = prompted.status === 201 ? 'ok' : String(prompted.status);
  } catch (error) {
    steps.prompt = `blocked: ${String(error)}`;
  }
  try {
    const read = await fetch(`${api}/v1/sessions/${sessionId}/poll?after=0`, { headers: { authorization: headers.authorization } });
    steps.read = read.status === 200 ? 'ok' : String(read.status);
  } catch (error) {
    steps.read = `blocked: ${String(error)}`;
  }
  const encoded = btoa(token).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  steps.websocket = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`${api.replace('http', 'ws')}/v1/ws`, ['agent-tether.v1', `agent-tether.bearer.${encoded}`]);
    ws.onmessage = (event) => {
      resolve(String(event.data).includes('"welcome"') ? 'ok' : 'no welcome');
      ws.close();
    };
    ws.onclose = (event) => resolve(`blocked: close ${event.code}`);
  });
  return steps;
}

describe.skipIf(!paths)('a page of another origin in Chromium', () => {
  let driver: BrowserDriver;
  let pages: Server;
  let pageOrigin: string;

  beforeAll(async () => {
    driver = await ENGINES.chromium.launch(paths!);
    pages = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>another site</title>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pages.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await driver?.close();
    await new Promise((resolve) => pages?.close(resolve));
  });

  async function runAttack(api: string): Promise<Record<string, string>> {
    const tab = await driver.newTab();
    try {
      await tab.goto(`${pageOrigin}/`);
      return await tab.evaluate(attack, { api, token: 'alice-token' });
    } finally {
      await tab.close();
    }
  }

  it('with authentication on and the default origins, none of the four steps succeeds, even holding a valid token', async () => {
    const { url, server } = await startAuthServer();
    const steps = await runAttack(url);
    for (const [step, outcome] of Object.entries(steps)) expect(outcome, step).toMatch(/^blocked|^40/);
    expect(server.stats().sessions).toBe(0);
  }, 60_000);

  it('a listed origin does all four, with Authorization through the preflight and the token in the subprotocol', async () => {
    const { url, scripted } = await startAuthServer({ allowedOrigins: [pageOrigin] });
    const attacked = runAttack(url);
    // The turn must run for the read to have something; end it at once.
    void scripted.next().then((run) => run.end());
    expect(await attacked).toEqual({ create: 'ok', prompt: 'ok', read: 'ok', websocket: 'ok' });
  }, 60_000);
});
