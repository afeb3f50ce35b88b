/**
 * A loopback HTTP front that checks bearer credentials the way the protocol
 * carries them (`Authorization: Bearer` on HTTP/SSE/long-poll; the
 * subprotocols `agent-tether.v1` + `agent-tether.bearer.<base64url>` on the
 * WebSocket upgrade, answering with `agent-tether.v1` selected) and forwards
 * what passes to a real server behind it. It stands in for a server's
 * authentication in client tests: refusals are the protocol's JSON errors.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  kind: 'http' | 'upgrade';
  method: string;
  path: string;
  /** The token presented (header or subprotocol), if any. */
  token: string | undefined;
  status: number;
}

export interface AuthFront {
  readonly url: string;
  /** Tokens accepted from now on. */
  valid: Set<string>;
  /** Paths (prefixes) answered 403 `forbidden` for an accepted token. */
  forbidden: string[];
  readonly seen: SeenRequest[];
  /** Cut every open connection (streams and WebSockets): clients must reconnect. */
  dropAll(): void;
  close(): Promise<void>;
}

const b64urlDecode = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');

function tokenOfUpgrade(req: IncomingMessage): { token: string | undefined; offersV1: boolean } {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const bearer = offered.find((p) => p.startsWith('agent-tether.bearer.'));
  return { token: bearer ? b64urlDecode(bearer.slice('agent-tether.bearer.'.length)) : undefined, offersV1: offered.includes('agent-tether.v1') };
}

function refusal(status: 401 | 403): string {
  const code = status === 401 ? 'unauthorized' : 'forbidden';
  return JSON.stringify({ error: { code, message: status === 401 ? 'Missing or invalid credentials' : 'Not allowed', status } });
}

export async function startAuthFront(backendUrl: string, valid: string[]): Promise<AuthFront> {
  const backend = new URL(backendUrl);
  const sockets = new Set<Socket>();
  const front: AuthFront = {
    url: '',
    valid: new Set(valid),
    forbidden: [],
    seen: [],
    dropAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      front.dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const judge = (path: string, token: string | undefined): 200 | 401 | 403 =>
    token === undefined || !front.valid.has(token) ? 401 : front.forbidden.some((p) => path.startsWith(p)) ? 403 : 200;

  const server: Server = createServer((req, res) => {
    const header = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const path = req.url ?? '/';
    const status = judge(path, header);
    front.seen.push({ kind: 'http', method: req.method ?? 'GET', path, token: header, status });
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(refusal(status));
      return;
    }
    const upstream = request(
      { host: backend.hostname, port: backend.port, method: req.method, path, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    const { token, offersV1 } = tokenOfUpgrade(req);
    const path = req.url ?? '/';
    const status = offersV1 ? judge(path, token) : 401;
    front.seen.push({ kind: 'upgrade', method: 'GET', path, token, status });
    if (status !== 200) {
      const body = refusal(status);
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    // The server behind selects no subprotocol: forward the upgrade without the offer, and select ours in the answer.
    const lines = [`${req.method} ${path} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== 'sec-websocket-protocol') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    const upstream = connect(Number(backend.port), backend.hostname);
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      socket.destroy();
    });
    socket.on('close', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    let pending = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      upstream.off('data', onHead);
      const answer = pending.subarray(0, end).toString('latin1');
      const selected = answer.startsWith('HTTP/1.1 101') ? '\r\nSec-WebSocket-Protocol: agent-tether.v1' : '';
      socket.write(`${answer}${selected}\r\n\r\n`);
      socket.write(pending.subarray(end + 4));
      upstream.pipe(socket);
      socket.pipe(upstream);
    };
    upstream.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (front as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return front;
}
