// A minimal static file server for the browser example (no dependencies).
// The page talks to the agent server directly, cross-origin: the reference
// server answers CORS preflights by default (`createServer({ cors: true })`).
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * @param {object} [options]
 * @param {string} [options.root] the folder to serve (default: this one)
 * @param {Record<string, string>} [options.files] in-memory files by URL path, e.g. `{ '/agent-tether.js': bundle }`
 * @returns {import('node:http').Server} not listening yet
 */
export function createPageServer({ root = dirname(fileURLToPath(import.meta.url)), files = {} } = {}) {
  return createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const name = path === '/' ? '/index.html' : path;
    const headers = { 'Content-Type': TYPES[extname(name)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' };
    if (Object.hasOwn(files, name)) {
      res.writeHead(200, headers).end(files[name]);
      return;
    }
    const file = normalize(join(root, name));
    if (!file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, headers).end(body);
    } catch {
      const hint = name === '/agent-tether.js' ? ' (build it: node scripts/build-browser.mjs)' : '';
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${name}${hint}\n`);
    }
  });
}
