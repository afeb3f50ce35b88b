import { once } from 'node:events';
import { connect, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoadBalancer, type LoadBalancer } from '../../src/testing.js';
import { dial, httpRequest, openWs, readBody, readBytes, startEcho, startTarget, until, wsUrl, type EchoTarget } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
function defer<T extends { close(): unknown }>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

async function echoes(n: number): Promise<EchoTarget[]> {
  return Promise.all(Array.from({ length: n }, async () => defer(await startEcho())));
}

async function balance(backends: EchoTarget[], options: { strategy?: 'random'; random?: () => number } = {}): Promise<LoadBalancer> {
  return defer(await createLoadBalancer({ backends: backends.map((b) => b.url), ...options }).listen());
}

/** Which backend a fresh connection through `lb` reached, by what each echo backend received. */
async function roundTrip(lb: LoadBalancer, payload: string) {
  const socket = await dial(lb.port);
  socket.write(payload);
  const echoed = await readBytes(socket, payload.length);
  return { socket, echoed: echoed.text };
}

/** A free port nothing listens on (a backend whose process is gone). */
async function deadPort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('createLoadBalancer options', () => {
  it('rejects invalid options with a TypeError naming the field', () => {
    expect(() => createLoadBalancer(undefined as never)).toThrow(/`options`/);
    expect(() => createLoadBalancer({ backends: [] })).toThrow(/`backends`/);
    expect(() => createLoadBalancer({ backends: ['http://127.0.0.1:1', 'nope'] })).toThrow(/`backends\[1\]`/);
    expect(() => createLoadBalancer({ backends: ['http://127.0.0.1:1'], strategy: 'least' as never })).toThrow(/`strategy`/);
    expect(() => createLoadBalancer({ backends: ['http://127.0.0.1:1'], random: 0.5 as never })).toThrow(/`random`/);
    expect(() => createLoadBalancer({ backends: ['http://127.0.0.1:1'], port: -1 })).toThrow(/`port`/);
    expect(() => createLoadBalancer({ backends: ['http://127.0.0.1:1'], host: '' })).toThrow(/`host`/);
    const lb = createLoadBalancer({ backends: ['http://127.0.0.1:1'] });
    expect(() => lb.kill(1)).toThrow(/`i`/);
    expect(() => lb.revive(-1)).toThrow(/`i`/);
    expect(() => lb.url).toThrow(/listen/);
  });

  it('resolves backends and keeps defaults for undefined fields', () => {
    const lb = createLoadBalancer({ backends: ['ws://localhost:4317/v1/ws', { port: 9 }], strategy: undefined, host: undefined });
    expect(lb.options).toMatchObject({
      backends: [
        { host: 'localhost', port: 4317 },
        { host: '127.0.0.1', port: 9 },
      ],
      strategy: 'round-robin',
      host: '127.0.0.1',
      port: 0,
    });
  });
});

describe('load balancer routing', () => {
  it('spreads connections round-robin and forwards bytes both ways', async () => {
    const backends = await echoes(3);
    const lb = await balance(backends);
    const sockets = [];
    for (let i = 0; i < 6; i++) {
      const { socket, echoed } = await roundTrip(lb, `hello ${i}`);
      expect(echoed).toBe(`hello ${i}`);
      sockets.push(socket);
    }
    expect(backends.map((b) => b.received())).toEqual([14, 14, 14]);
    expect(lb.connectionCounts()).toEqual([2, 2, 2]);
    expect(lb.connections.map((c) => c.backend)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(lb.stats.accepted).toEqual([2, 2, 2]);
    for (const socket of sockets) socket.destroy();
    await until(() => lb.connections.length === 0);
  });

  it('picks with the injected random source', async () => {
    const backends = await echoes(3);
    const draws = [0.9, 0.1, 0.5, 0.99, 0];
    const lb = await balance(backends, { strategy: 'random', random: () => draws.shift()! });
    for (let i = 0; i < 5; i++) (await roundTrip(lb, 'x')).socket.destroy();
    expect(lb.stats.accepted).toEqual([2, 1, 2]);
  });

  it('kill(i) cuts every connection to backend i and routes around it until revive(i)', async () => {
    const backends = await echoes(2);
    const lb = await balance(backends);
    const onZero = await roundTrip(lb, 'a');
    const onOne = await roundTrip(lb, 'b');
    const reset = once(onZero.socket, 'error');
    expect(lb.kill(0)).toBe(1);
    expect((await reset)[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(lb.alive).toEqual([false, true]);
    // The connection on backend 1 is untouched.
    onOne.socket.write('still here');
    expect((await readBytes(onOne.socket, 10)).text).toBe('still here');
    for (let i = 0; i < 3; i++) (await roundTrip(lb, 'c')).socket.destroy();
    expect(lb.stats.accepted).toEqual([1, 4]);
    lb.revive(0);
    (await roundTrip(lb, 'd')).socket.destroy();
    (await roundTrip(lb, 'e')).socket.destroy();
    expect(lb.stats.accepted).toEqual([2, 5]);
    onOne.socket.destroy();
  });

  it('drain(i) sends new connections elsewhere and keeps the open ones until revive(i)', async () => {
    const backends = await echoes(3);
    const lb = await balance(backends);
    const onZero = await roundTrip(lb, 'a');
    lb.drain(0);
    expect(lb.draining).toEqual([true, false, false]);
    expect(lb.alive).toEqual([true, true, true]);
    const opened = [];
    for (let i = 0; i < 4; i++) opened.push((await roundTrip(lb, 'b')).socket);
    expect(lb.connections.map((c) => c.backend)).toEqual([0, 1, 2, 1, 2]);
    // The connection already on backend 0 still carries bytes.
    onZero.socket.write('still here');
    expect((await readBytes(onZero.socket, 10)).text).toBe('still here');
    lb.revive(0);
    expect(lb.draining).toEqual([false, false, false]);
    opened.push((await roundTrip(lb, 'c')).socket);
    expect(lb.connections.at(-1)?.backend).toBe(0);
    for (const socket of [onZero.socket, ...opened]) socket.destroy();
    await until(() => lb.connections.length === 0);
  });

  it('resets connections when every backend is killed', async () => {
    const backends = await echoes(1);
    const lb = await balance(backends);
    lb.kill(0);
    const socket = connect({ host: '127.0.0.1', port: lb.port });
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
    expect(lb.stats.refused).toBe(1);
  });

  it('tries the next backend when one refuses the connection, losing nothing the client sent', async () => {
    const [live] = await echoes(1);
    const lb = defer(await createLoadBalancer({ backends: [{ port: await deadPort() }, live!.url] }).listen());
    const socket = await dial(lb.port);
    socket.write('early bytes');
    expect((await readBytes(socket, 11)).text).toBe('early bytes');
    expect(lb.stats).toMatchObject({ accepted: [0, 1], redispatched: 1, refused: 0 });
    socket.destroy();
  });

  it('carries HTTP keep-alive, SSE and WebSocket on the backend they first reached', async () => {
    const targets = await Promise.all([startTarget(), startTarget()]);
    for (const t of targets) defer(t);
    const lb = defer(await createLoadBalancer({ backends: targets.map((t) => t.url) }).listen());
    const ws = await openWs(wsUrl(lb.url));
    cleanups.push(() => ws.terminate());
    const echoed = once(ws, 'message');
    ws.send('ping');
    expect(String((await echoed)[0])).toBe('ping');
    expect(targets.map((t) => t.upgrades)).toEqual([1, 0]);
    const sse = await httpRequest(`${lb.url}/events`, { headers: { accept: 'text/event-stream' } });
    const chunks: string[] = [];
    sse.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
    await until(() => chunks.join('').includes('retry:'));
    targets[1]!.sse('from-b');
    await until(() => chunks.join('').includes('from-b'));
    expect(lb.connectionCounts()).toEqual([1, 1]);
    expect(await readBody(await httpRequest(`${lb.url}/hello`))).toBe('hello');
    expect(lb.stats.accepted).toEqual([2, 1]);
    sse.destroy();
  });

  it('close() destroys every connection and leaves nothing listening', async () => {
    const backends = await echoes(2);
    const lb = await createLoadBalancer({ backends: backends.map((b) => b.url) }).listen();
    const { socket } = await roundTrip(lb, 'x');
    const closed = once(socket, 'close');
    await lb.close();
    await closed;
    expect(lb.connections).toHaveLength(0);
    await expect(dial(lb.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(lb.listen()).rejects.toThrow(/after close/);
  });
});
