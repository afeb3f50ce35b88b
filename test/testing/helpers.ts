/** Real-socket fixtures for the testing-kit tests: targets to put behind the fault proxy. */
import { createServer as createHttpServer, request, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';

export interface Target extends AsyncDisposable {
  url: string;
  port: number;
  /** WebSocket upgrade requests that reached the target. */
  upgrades: number;
  /** Server-side WebSockets, in order of connection. */
  sockets: WebSocket[];
  /** Sends an SSE event to every open /events stream. */
  sse(data: string): void;
  close(): Promise<void>;
}

/**
 * An HTTP target: `GET /hello` → `hello`; `POST /echo` → the body; `GET …/events` → an
 * SSE stream that starts with `retry:` and carries what `sse()` sends; `/ws` → a WebSocket echo.
 */
export async function startTarget(): Promise<Target> {
  const streams = new Set<import('node:http').ServerResponse>();
  const server: HttpServer = createHttpServer((req, res) => {
    if (req.url === '/hello') {
      res.end('hello');
    } else if (req.url === '/echo' && req.method === 'POST') {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => res.end(Buffer.concat(parts)));
    } else if (req.url?.split('?')[0]?.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('retry: 1000\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  const wss = new WebSocketServer({ server });
  const target: Target = {
    url: '',
    port: 0,
    upgrades: 0,
    sockets: [],
    sse: (data) => {
      for (const res of streams) res.write(`data: ${data}\n\n`);
    },
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      for (const res of streams) res.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    [Symbol.asyncDispose]: () => target.close(),
  };
  server.on('upgrade', () => target.upgrades++);
  wss.on('connection', (ws) => {
    target.sockets.push(ws);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  target.port = address.port;
  target.url = `http://127.0.0.1:${address.port}`;
  return target;
}

export interface EchoTarget extends AsyncDisposable {
  port: number;
  url: string;
  /** Bytes the echo server received, all connections together. */
  received: () => number;
  /** Resolves with the next server-side socket. */
  nextSocket: () => Promise<Socket>;
  close(): Promise<void>;
}

/** A raw TCP echo server. */
export async function startEcho(): Promise<EchoTarget> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d: Buffer) => {
      received += d.length;
      socket.write(d);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  const echo: EchoTarget = {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    received: () => received,
    nextSocket: async () => (await once(server, 'connection'))[0] as Socket,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    [Symbol.asyncDispose]: () => echo.close(),
  };
  return echo;
}

/** A raw client socket, connected. */
export async function dial(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return socket;
}

/** Collects everything a socket receives until `n` bytes arrived. */
export async function readBytes(socket: Socket, n: number): Promise<{ text: string; chunks: number }> {
  const parts: Buffer[] = [];
  let length = 0;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      parts.push(d);
      length += d.length;
      if (length >= n) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve({ text: Buffer.concat(parts).toString(), chunks: parts.length });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** A non-pooled HTTP GET/POST; resolves with the response (body not consumed). */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; agent?: import('node:http').Agent | false } = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, resolve);
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function readBody(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of res) parts.push(part as Buffer);
  return Buffer.concat(parts).toString();
}

/** Polls a cheap condition (no fixed sleeps): resolves once it holds, fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets in-flight I/O settle; used only to show that something did *not* happen. */
export const quiet = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

export function wsUrl(httpUrl: string, path = '/ws'): string {
  return httpUrl.replace(/^http/, 'ws') + path;
}

/** Opens a `ws` client and waits for `open`. */
export async function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}
