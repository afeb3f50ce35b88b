// Shared by the security suite: a server with authentication on real sockets, and raw callers for each transport.
import WebSocket from 'ws';
import { wsProtocols } from '../../src/protocol/index.js';
import { tokenAuthenticator, type ServerOptions } from '../../src/server.js';
import { scriptedAgent, startServer } from '../server/helpers.js';

/** Tokens of the suite: each names a principal. */
export const TOKENS = { 'alice-token': 'alice', 'bob-token': 'bob', 'carol-token': 'carol' } as const;
export type Token = keyof typeof TOKENS;

/** A server on 127.0.0.1:0 with `tokenAuthenticator(TOKENS)`, closed after the test. */
export async function startAuthServer(options: Partial<ServerOptions> = {}) {
  const scripted = scriptedAgent();
  const started = await startServer({ agent: scripted.agent, authenticate: tokenAuthenticator(TOKENS), ...options });
  return { ...started, scripted };
}

/** An HTTP call with an optional bearer token; the JSON body (or undefined) and the status. */
export async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url + path, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: response.status, body, headers: response.headers };
}

/** A session created by the principal of `token`. */
export async function createSession(url: string, token: string, body: unknown = {}): Promise<string> {
  const reply = await call(url, 'POST', '/v1/sessions', { token, body });
  if (reply.status !== 201) throw new Error(`create failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.session.id as string;
}

/** The subprotocols a client offers for `token`, per the wire contract. */
export function bearerProtocols(token: string): string[] {
  return [wsProtocols.v1, wsProtocols.bearerPrefix + Buffer.from(token).toString('base64url')];
}

/** Open a WebSocket; resolves with the socket once open, or with the refused upgrade's status. */
export function openSocket(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; query?: string } = {},
): Promise<{ ws: WebSocket; status: 101 } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws' + (options.query ?? ''), options.protocols ?? [], { headers: options.headers ?? {} });
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** Send a request frame and wait for its reply frame. */
export function request(ws: WebSocket, frame: Record<string, unknown>): Promise<any> {
  const id = Math.random().toString(36).slice(2);
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'reply' && message.id === id) {
        ws.off('message', onMessage);
        resolve(message);
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ ...frame, id }));
  });
}

/** Open an SSE stream: its status, and the JSON error body when refused (an open stream is closed at once). */
export async function openSse(url: string, path: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const controller = new AbortController();
  const response = await fetch(url + path, {
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    signal: controller.signal,
  });
  if (response.status === 200) {
    controller.abort();
    return { status: 200, body: undefined };
  }
  return { status: response.status, body: JSON.parse(await response.text()) };
}
