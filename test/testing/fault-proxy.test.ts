import { once } from 'node:events';
import { Agent, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import {
  dial,
  httpRequest,
  openWs,
  quiet,
  readBody,
  readBytes,
  startEcho,
  startTarget,
  until,
  wsUrl,
} from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
/** Registers a teardown, run in reverse order after each test. */
function defer<T extends { close(): unknown } | { destroy(): unknown } | { terminate(): unknown }>(thing: T): T {
  cleanups.push(() => {
    if ('terminate' in thing) return thing.terminate();
    if ('close' in thing) return thing.close();
    return thing.destroy();
  });
  return thing;
}

async function proxyTo(target: { port: number }): Promise<FaultProxy> {
  return defer(await createFaultProxy({ target: { port: target.port } }).listen());
}

describe('createFaultProxy options', () => {
  it('rejects invalid options with a TypeError naming the field', () => {
    expect(() => createFaultProxy(undefined as never)).toThrow(/`options`/);
    expect(() => createFaultProxy({ target: 'not a url' })).toThrow(TypeError);
    expect(() => createFaultProxy({ target: 'not a url' })).toThrow(/`target`/);
    expect(() => createFaultProxy({ target: { port: 0 } })).toThrow(/`target`/);
    expect(() => createFaultProxy({ target: 'http://127.0.0.1:1', port: 70_000 })).toThrow(/`port`/);
    expect(() => createFaultProxy({ target: 'http://127.0.0.1:1', host: '' })).toThrow(/`host`/);
    expect(() => createFaultProxy({ target: 'http://127.0.0.1:1', maxBufferedBytes: 0 })).toThrow(/`maxBufferedBytes`/);
  });

  it('resolves the target from a URL and keeps defaults for undefined fields', () => {
    const proxy = createFaultProxy({ target: 'ws://localhost:4317/v1/ws', host: undefined, port: undefined });
    expect(proxy.options).toEqual({
      target: { host: 'localhost', port: 4317 },
      host: '127.0.0.1',
      port: 0,
      maxBufferedBytes: 1024 * 1024,
    });
    expect(createFaultProxy({ target: new URL('http://example.test') }).options.target).toEqual({ host: 'example.test', port: 80 });
    expect(() => proxy.url).toThrow(/listen/);
  });

  it('rejects invalid control arguments with a TypeError naming the field', async () => {
    const proxy = createFaultProxy({ target: 'http://127.0.0.1:1' });
    expect(() => proxy.sliceWrites(0)).toThrow(/`bytes`/);
    expect(() => proxy.sliceWrites(4, { delayMs: -1 })).toThrow(/`delayMs`/);
    expect(() => proxy.delay(Number.NaN)).toThrow(/`ms`/);
    expect(() => proxy.stall('yes' as never)).toThrow(/`on`/);
    expect(() => proxy.stall(true, 'sideways' as never)).toThrow(/`direction`/);
    expect(() => proxy.refuseWebSocket(1 as never)).toThrow(TypeError);
    expect(() => proxy.reset('all' as never)).toThrow(/`filter`/);
    await proxy.close();
    await expect(proxy.listen()).rejects.toThrow(/after close/);
  });
});

describe('fault proxy forwarding', () => {
  it('forwards plain HTTP and reports the request', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const seen: string[] = [];
    proxy.on('request', (conn, req) => seen.push(`${conn.kind} ${req.method} ${req.path}`));

    const res = await httpRequest(`${proxy.url}/hello`);
    expect(res.statusCode).toBe(200);
    expect(await readBody(res)).toBe('hello');
    expect(seen).toEqual(['http GET /hello']);
    expect(proxy.stats.accepted).toBe(1);
  });

  it('frames keep-alive requests with bodies and still spots a later SSE request', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const agent = defer(new Agent({ keepAlive: true, maxSockets: 1 }));
    const kinds: string[] = [];
    proxy.on('request', (conn) => kinds.push(conn.kind));

    // A body that looks like a request line must not fool the framer.
    const body = 'GET /evil HTTP/1.1\r\n\r\n';
    const echoed = await readBody(await httpRequest(`${proxy.url}/echo`, { method: 'POST', body, agent, headers: { 'content-type': 'text/plain' } }));
    expect(echoed).toBe(body);
    const sse = await httpRequest(`${proxy.url}/v1/sessions/s1/events`, { agent, headers: { accept: 'text/event-stream' } });
    sse.destroy();

    expect(kinds).toEqual(['http', 'sse']);
    expect(proxy.stats.accepted).toBe(1); // one connection carried both
  });

  it('frames chunked request bodies split at arbitrary points', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const seen: string[] = [];
    proxy.on('request', (conn, req) => seen.push(`${conn.kind} ${req.method} ${req.path}`));
    const socket = defer(await dial(proxy.port));
    const wire =
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nGET /\r\n' + // a chunk that looks like a request line
      '3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n' +
      'GET /v1/sessions/s1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n';
    const reply = readBytes(socket, 1);
    // Odd split points: inside the head, inside a chunk-size line, inside the trailers.
    for (const [from, to] of [[0, 7], [7, 70], [70, 77], [77, 101], [101, wire.length]] as const) {
      socket.write(wire.slice(from, to));
      await quiet(5);
    }
    await reply;
    await until(() => seen.length === 2);
    expect(seen).toEqual(['http POST /echo', 'sse GET /v1/sessions/s1/events']);
  });

  it('carries a WebSocket echo and identifies the connection', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const next = proxy.nextConnection({ kind: 'websocket', timeoutMs: 5_000 });
    const ws = defer(await openWs(wsUrl(proxy.url)));
    const conn = await next;
    expect(conn.kind).toBe('websocket');
    ws.send('ping');
    const [reply] = await once(ws, 'message');
    expect(String(reply)).toBe('ping');
    expect(proxy.connections).toEqual([conn]);
  });

  it('forwards a half-close: the client ends, the reply still arrives, then both close', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    const socket = defer(await dial(proxy.port));
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const ended = once(socket, 'end');
    socket.end('bye');
    await ended;
    expect(Buffer.concat(received).toString()).toBe('bye');
    await until(() => proxy.connections.length === 0);
  });

  it('resets the client side when the target refuses the connection', async () => {
    const echo = await startEcho();
    const port = echo.port;
    await echo.close(); // nothing listens there now
    const proxy = await proxyTo({ port });
    const socket = defer(await dial(proxy.port));
    const [error] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
  });
});

describe('fault proxy one-shot actions', () => {
  it('reset(): both sides see ECONNRESET', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    const serverSide = echo.nextSocket();
    const socket = defer(await dial(proxy.port));
    socket.write('x');
    await readBytes(socket, 1);
    const server = await serverSide;
    const serverError = once(server, 'error').catch((e: unknown) => [e]) as Promise<[NodeJS.ErrnoException]>;
    const clientError = once(socket, 'error').catch((e: unknown) => [e]) as Promise<[NodeJS.ErrnoException]>;

    expect(proxy.reset()).toBe(1);
    expect((await clientError)[0].code).toBe('ECONNRESET');
    expect((await serverError)[0].code).toBe('ECONNRESET');
    await until(() => proxy.connections.length === 0);
  });

  it('reset(filter) only touches matching connections', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const a = defer(await openWs(wsUrl(proxy.url)));
    const b = defer(await openWs(wsUrl(proxy.url)));
    const closedA = once(a, 'close');
    expect(proxy.reset((conn) => conn.id === 1)).toBe(1);
    const [code] = await closedA;
    expect(code).toBe(1006);
    b.send('still here');
    expect(String((await once(b, 'message'))[0])).toBe('still here');
  });

  it('endAll(): a WebSocket ends without a close frame (1006) on both sides', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const ws = defer(await openWs(wsUrl(proxy.url)));
    await until(() => target.sockets.length === 1);
    const serverClosed = once(target.sockets[0]!, 'close');
    const clientClosed = once(ws, 'close');

    expect(proxy.endAll()).toBe(1);
    const [code] = await clientClosed;
    expect(code).toBe(1006);
    const [serverCode] = await serverClosed;
    expect(serverCode).toBe(1006);
    await until(() => proxy.connections.length === 0);
  });

  it('endAll(): an SSE response ends mid-stream with a clean FIN', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    const res = await httpRequest(`${proxy.url}/v1/sessions/s1/events`, { headers: { accept: 'text/event-stream' } });
    cleanups.push(() => res.destroy());
    const body = readBody(res).catch((error: Error) => `aborted: ${error.message}`);
    await until(() => proxy.connections[0]?.stats.down.forwarded! > 0);
    proxy.endAll();
    expect(await body).toMatch(/retry: 1000|aborted/);
    await until(() => proxy.connections.length === 0);
  });
});

describe('fault proxy modes', () => {
  it('stall(true) holds bytes without closing; stall(false) delivers them in order', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    const socket = defer(await dial(proxy.port));
    await until(() => proxy.connections.length === 1);
    const conn = proxy.connections[0]!;

    proxy.stall(true);
    socket.write('one ');
    socket.write('two');
    await until(() => conn.stats.up.pending === 7);
    await quiet();
    expect(echo.received()).toBe(0);
    expect(conn.open).toBe(true);

    const reply = readBytes(socket, 7);
    proxy.stall(false);
    expect((await reply).text).toBe('one two');
  });

  it('stall("down") lets requests through but holds replies, also on new connections', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    proxy.stall(true, 'down');
    const socket = defer(await dial(proxy.port));
    socket.write('abc');
    await until(() => echo.received() === 3);
    await until(() => proxy.connections[0]!.stats.down.pending === 3);
    const reply = readBytes(socket, 3);
    proxy.heal();
    expect((await reply).text).toBe('abc');
  });

  it('stall bounds what it holds and applies TCP backpressure to the sender', async () => {
    const echo = defer(await startEcho());
    const proxy = defer(await createFaultProxy({ target: { port: echo.port }, maxBufferedBytes: 64 * 1024 }).listen());
    const socket = defer(await dial(proxy.port));
    proxy.stall(true, 'up');
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    socket.write(big);
    await until(() => proxy.connections[0]?.stats.up.pending! > 64 * 1024);
    await quiet(100);
    const conn = proxy.connections[0]!;
    // At most one socket read beyond the limit is held; the rest waits in TCP buffers.
    expect(conn.stats.up.pending).toBeLessThan(64 * 1024 + 256 * 1024);
    expect(conn.stats.up.received).toBeLessThan(big.length);
    const all = readBytes(socket, big.length);
    proxy.stall(false);
    const { text } = await all;
    expect(text.length).toBe(big.length);
  });

  it('sliceWrites(n) delivers a WebSocket message intact in many small writes', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    proxy.sliceWrites(3);
    const ws = defer(await openWs(wsUrl(proxy.url)));
    const message = 'x'.repeat(40) + '—' + 'y'.repeat(40);
    ws.send(message);
    const [reply] = await once(ws, 'message');
    expect(String(reply)).toBe(message);
    const conn = proxy.connections[0]!;
    // The 101 response head alone is > 100 bytes, so at 3 bytes a write there are dozens.
    expect(conn.stats.down.writes).toBeGreaterThan(30);
    expect(conn.stats.up.writes).toBeGreaterThan(30);
  });

  it('sliceWrites with delayMs makes the receiver see separate reads', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    proxy.sliceWrites(4, { delayMs: 5 });
    const socket = defer(await dial(proxy.port));
    const reply = readBytes(socket, 20);
    socket.write('0123456789abcdefghij');
    const { text, chunks } = await reply;
    expect(text).toBe('0123456789abcdefghij');
    expect(chunks).toBeGreaterThan(1);
    proxy.sliceWrites(null);
  });

  it('delay(ms) adds latency each way and keeps order', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    const socket = defer(await dial(proxy.port));
    proxy.delay(60);
    const started = Date.now();
    const reply = readBytes(socket, 6);
    socket.write('abc');
    socket.write('def');
    expect((await reply).text).toBe('abcdef');
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('refuseWebSocket(true) answers upgrades with 403 while plain HTTP still works', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    proxy.refuseWebSocket(true);

    const ws = defer(new WebSocket(wsUrl(proxy.url)));
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(403);
    res.resume();
    expect(target.upgrades).toBe(0);
    expect(proxy.stats.refusedUpgrades).toBe(1);

    expect(await readBody(await httpRequest(`${proxy.url}/hello`))).toBe('hello');

    proxy.refuseWebSocket(false);
    const ok = defer(await openWs(wsUrl(proxy.url)));
    expect(ok.readyState).toBe(WebSocket.OPEN);
    expect(target.upgrades).toBe(1);
  });

  it('bufferSse(true) passes the response head but withholds the body until turned off', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    proxy.bufferSse(true);

    const res = await httpRequest(`${proxy.url}/v1/sessions/s1/events?after=0`, { headers: { accept: 'text/event-stream' } });
    cleanups.push(() => res.destroy());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const received: string[] = [];
    res.on('data', (d: Buffer) => received.push(d.toString()));

    target.sse('one');
    const conn = proxy.connections[0]!;
    expect(conn.kind).toBe('sse');
    await until(() => conn.stats.down.pending > 0 && received.length === 0 && conn.stats.down.received > 40);
    await quiet();
    expect(received).toEqual([]);

    proxy.bufferSse(false);
    await until(() => received.join('').includes('data: one'));
    expect(received.join('')).toBe('retry: 1000\n\ndata: one\n\n');

    // Turning it on again holds an already flowing stream too.
    proxy.bufferSse(true);
    target.sse('two');
    await until(() => conn.stats.down.pending > 0);
    await quiet();
    expect(received.join('')).not.toContain('two');
  });

  it('bufferSse leaves ordinary HTTP responses alone', async () => {
    const target = defer(await startTarget());
    const proxy = await proxyTo(target);
    proxy.bufferSse(true);
    expect(await readBody(await httpRequest(`${proxy.url}/hello`))).toBe('hello');
  });

  it('refuseConnections(true) resets new connections without reaching the target', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    proxy.refuseConnections(true);
    const socket = defer((await import('node:net')).connect({ host: '127.0.0.1', port: proxy.port }));
    const [error] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
    expect(proxy.stats).toMatchObject({ accepted: 0, refused: 1 });

    proxy.refuseConnections(false);
    const ok = defer(await dial(proxy.port));
    const reply = readBytes(ok, 2);
    ok.write('hi');
    expect((await reply).text).toBe('hi');
  });
});

describe('fault proxy lifecycle', () => {
  it('nextConnection times out and honours an abort signal', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    await expect(proxy.nextConnection({ timeoutMs: 20 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const controller = new AbortController();
    const waiting = proxy.nextConnection({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('emits connection and disconnect events', async () => {
    const echo = defer(await startEcho());
    const proxy = await proxyTo(echo);
    const events: string[] = [];
    proxy.on('connection', (c) => events.push(`connect ${c.id}`));
    const off = proxy.on('disconnect', (c) => events.push(`disconnect ${c.id}`));
    const next = proxy.nextConnection();
    const socket = await dial(proxy.port);
    const conn = await next;
    socket.end();
    await conn.closed;
    expect(conn.open).toBe(false);
    expect(events).toEqual(['connect 1', 'disconnect 1']);
    off();
  });

  it('close() destroys every connection and leaves no handles behind', async () => {
    const count = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout').length;
    await quiet(); // let earlier tests' sockets finish closing
    const before = count();

    const target = await startTarget();
    const proxy = await createFaultProxy({ target: target.url }).listen();
    const ws = await openWs(wsUrl(proxy.url));
    const raw: Socket = await dial(proxy.port);
    raw.on('error', () => {});
    proxy.stall(true);
    proxy.delay(10_000);
    raw.write('held');
    await until(() => proxy.connections.length === 2 && proxy.connections.some((c) => c.stats.up.pending > 0));

    const wsClosed = once(ws, 'close');
    const rawClosed = once(raw, 'close');
    await proxy.close();
    await proxy.close(); // idempotent
    expect(proxy.connections).toEqual([]);
    expect(proxy.listening).toBe(false);
    await Promise.all([wsClosed, rawClosed]);
    await target.close();
    // libuv lists a handle until its close callback ran, and on Node 22 an accepted socket that
    // was already destroyed can stay listed for a while longer (see test/support/client-sockets.ts;
    // CI saw one such straggler). So wait, bounded, for the count to fall back: a handle this test
    // leaked stays listed (the stalled 10 s delay, a socket, the listener) and fails here.
    await until(() => count() <= before, 2_000).catch(() => {});
    // Nothing this test opened survives (earlier tests' leftovers may only go away).
    expect(count()).toBeLessThanOrEqual(before);
  });

  it('supports await using', async () => {
    const echo = defer(await startEcho());
    let port: number;
    {
      await using proxy = await createFaultProxy({ target: { port: echo.port } }).listen();
      port = proxy.port;
      expect(proxy.listening).toBe(true);
    }
    const socket = (await import('node:net')).connect({ host: '127.0.0.1', port });
    const [error] = (await once(socket, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });
});
