import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Child, root } from './support.js';

// `node examples/browser/serve.mjs`: the page server a person runs by hand.
describe('examples/browser/serve.mjs', () => {
  it('serves the page and its script, refuses paths outside the folder, and stops on SIGTERM', async () => {
    await using serve = new Child(join(root, 'examples/browser/serve.mjs'), ['--port', '0']);
    const out = await serve.waitFor(/browser example on (http:\/\/127\.0\.0\.1:\d+)\//);
    const base = /browser example on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1];

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="./app.js"></script>');

    const app = await fetch(`${base}/app.js`);
    expect(app.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await app.text()).toContain("from './agent-tether.js'");

    // A raw request line (fetch would normalize the dots away).
    for (const path of ['/../../package.json', '/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json']) {
      expect(await rawStatus(base!, path), path).toBe(404);
    }
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);

    serve.process.kill('SIGTERM');
    expect((await serve.exit()).code).toBe(0);
  });
});

function rawStatus(base: string, path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    request({ host: url.hostname, port: url.port, path }, (res) => {
      res.resume();
      resolve(res.statusCode);
    })
      .on('error', reject)
      .end();
  });
}
