/**
 * A forward HTTP proxy on 127.0.0.1 that sends requests for a few host names
 * to the same port on 127.0.0.1: how a browser without a host-resolver switch
 * (WebKitGTK) opens a page on a name that is not localhost. Requests for any
 * other host are refused, so nothing leaves the machine.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running {@link startHostAliasProxy}; `address` is `127.0.0.1:port` for a browser's proxy setting. */
export interface HostAliasProxy {
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the proxy for `hostAliases` on a free loopback port. */
export async function startHostAliasProxy(hostAliases: readonly string[]): Promise<HostAliasProxy> {
  const server = createServer((req, res) => {
    let target: URL | undefined;
    try {
      target = new URL(req.url ?? '');
    } catch {
      // Not an absolute URI: not a proxy request.
    }
    if (!target || target.protocol !== 'http:' || !hostAliases.includes(target.hostname)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('host-alias proxy: only the test host names\n');
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: target.port || 80, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  // No tunnels: the pages' own API and WebSocket traffic goes to 127.0.0.1 directly.
  server.on('connect', (_req, socket) => socket.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
