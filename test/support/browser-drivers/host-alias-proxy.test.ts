import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type HostAliasProxy, startHostAliasProxy } from './host-alias-proxy.js';

/** Sends `GET <url>` through the proxy, as a browser with an HTTP proxy setting does. */
function viaProxy(proxy: HostAliasProxy, url: string): Promise<{ status: number; body: string }> {
  const [host, port] = proxy.address.split(':');
  return new Promise((resolve, reject) => {
    request({ host, port: Number(port), path: url, headers: { Host: new URL(url).host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => (body += text));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('startHostAliasProxy', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('sends requests for an alias to the same port on 127.0.0.1, and refuses every other host', async () => {
    const site = createServer((req, res) => res.end(`${req.headers.host} ${req.url}`));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => site.close(() => resolve())));
    const port = (site.address() as AddressInfo).port;
    const proxy = await startHostAliasProxy(['tether.test']);
    cleanups.push(() => proxy.close());

    expect(await viaProxy(proxy, `http://tether.test:${port}/app.js?x=1`)).toEqual({
      status: 200,
      body: `tether.test:${port} /app.js?x=1`,
    });
    expect((await viaProxy(proxy, `http://example.com:${port}/`)).status).toBe(403);
    expect((await viaProxy(proxy, `http://tether.test.example:${port}/`)).status).toBe(403);
  });
});
