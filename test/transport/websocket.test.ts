import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError, HttpError, ProtocolError, TimeoutError } from '../../src/errors/index.js';
import { createTransport, type Transport, type TransportOptions, type WebSocketConstructor } from '../../src/transport/index.js';
import { countingWebSocket, delta, FakeClock, Recorder, sleep, transportOptions, wsFixture, type WsConnection, type WsFixture } from './helpers.js';

const turnInfo = {
  id: 'turn1',
  sessionId: 's1',
  status: 'queued',
  prompt: 'hi',
  createdAt: 1,
  queuedSeq: 1,
};

let server: WsFixture;
let clock: FakeClock;
let recorder: Recorder;
let transports: Transport[];

beforeEach(async () => {
  server = await wsFixture();
  clock = new FakeClock();
  recorder = new Recorder();
  transports = [];
});

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close(200)));
  await server.close();
});

function start(overrides: Partial<TransportOptions> = {}): Transport {
  const transport = createTransport('websocket', transportOptions(server.url, clock, overrides), recorder);
  transports.push(transport);
  return transport;
}

function welcome(conn: WsConnection, heartbeatMs = 15_000): void {
  conn.socket.send(JSON.stringify({ type: 'welcome', clientId: 'client-1', heartbeatMs }));
}

async function opened(overrides: Partial<TransportOptions> = {}): Promise<{ transport: Transport; conn: WsConnection }> {
  const transport = start(overrides);
  const conn = await server.next();
  welcome(conn);
  await recorder.until((r) => r.opened);
  return { transport, conn };
}

function frameOf(conn: WsConnection, type: string): Record<string, unknown> | undefined {
  return conn.messages.find((m) => m.type === type);
}

describe('websocket transport: opening and delivery', () => {
  it('derives ws:// URL with clientId, passes headers, opens only on welcome, sends queued subscribes after it', async () => {
    const transport = start();
    transport.subscribe('s1', { after: 7, epoch: 'e1' });
    const conn = await server.next();
    expect(conn.request.url).toBe('/v1/ws?clientId=client-1');
    expect(conn.request.headers.authorization).toBe('Bearer secret');
    await sleep(30);
    expect(recorder.opened).toBe(false);
    expect(conn.messages).toEqual([]); // queued until welcome
    welcome(conn);
    await vi.waitFor(() => expect(frameOf(conn, 'subscribe')).toMatchObject({ sessionId: 's1', after: 7, epoch: 'e1' }));
    expect(recorder.calls[0]).toEqual({ kind: 'open' });
  });

  it('delivers a validated events frame as one events() call, passing unknown event types through', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    const future = { type: 'turn.future', sessionId: 's1', seq: 3, epoch: 'e1', time: 1, extra: true };
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s1', 1), delta('s1', 2), future] }));
    await recorder.until((r) => r.delivered.length === 3);
    expect(recorder.calls.filter((c) => c.kind === 'events')).toHaveLength(1);
    expect(recorder.delivered.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(recorder.delivered[2]).toMatchObject({ type: 'turn.future' });
  });

  it('ignores events of a session that is not subscribed (in flight from before an unsubscribe, F4)', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    transport.unsubscribe('s1');
    await vi.waitFor(() => expect(frameOf(conn, 'unsubscribe')).toMatchObject({ sessionId: 's1' }));
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s1', 1)] }));
    conn.socket.send(JSON.stringify({ type: 'pong', time: 1 }));
    await sleep(50);
    expect(recorder.delivered).toEqual([]);
    expect(recorder.closedCalls).toEqual([]);
  });

  it('reports a reset frame through reset()', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 5, epoch: 'old' });
    conn.socket.send(JSON.stringify({ type: 'reset', sessionId: 's1', epoch: 'new', after: 0, reason: 'epoch_changed' }));
    await recorder.until((r) => r.resets.length === 1);
    expect(recorder.resets[0]).toEqual({ sessionId: 's1', epoch: 'new', after: 0, reason: 'epoch_changed' });
  });

  it('works with a WHATWG WebSocket that has no send callback (Node global WebSocket)', async () => {
    const transport = start({ WebSocket: globalThis.WebSocket as unknown as WebSocketConstructor });
    transport.subscribe('s1', { after: 0 });
    const conn = await server.next();
    welcome(conn);
    await vi.waitFor(() => expect(frameOf(conn, 'subscribe')).toBeDefined());
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s1', 1)] }));
    await recorder.until((r) => r.delivered.length === 1);
    await transport.close(500);
    expect(await conn.closed).toBe(1000);
  });
});

describe('websocket transport: bad frames become ProtocolError in closed(), never a throw', () => {
  it('a frame that is not JSON closes the attempt (client closes 1007)', async () => {
    const { conn } = await opened();
    conn.socket.send('{not json');
    await recorder.until((r) => r.closedCalls.length === 1);
    const info = recorder.closedCalls[0];
    expect(info?.opened).toBe(true);
    expect(info?.error).toBeInstanceOf(ProtocolError);
    expect(info?.error?.code).toBe('invalid_json');
    expect(await conn.closed).toBe(1007);
  });

  it('a schema-invalid event closes the attempt with ProtocolError (client closes 1008)', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [{ ...delta('s1', 1), seq: -1 }] }));
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('invalid_event');
    expect(recorder.delivered).toEqual([]);
    expect(await conn.closed).toBe(1008);
  });

  it('an event of another session inside a session batch is a ProtocolError (F4)', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s2', 1)] }));
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
  });

  it('an unknown frame type is a ProtocolError', async () => {
    const { conn } = await opened();
    conn.socket.send(JSON.stringify({ type: 'bogus' }));
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
  });

  it('a frame over the size limit is a ProtocolError', async () => {
    const { conn } = await opened({ maxMessageBytes: 1024 * 1024 });
    conn.socket.send(JSON.stringify({ type: 'pong', pad: 'x'.repeat(1024 * 1024 + 10) }));
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('frame_too_large');
  });

  it('accepts server frames larger than the client-to-server limit (a long turn.completed output)', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    const output = 'x'.repeat(2 * 1024 * 1024);
    conn.socket.send(
      JSON.stringify({
        type: 'events',
        sessionId: 's1',
        events: [{ type: 'turn.completed', sessionId: 's1', seq: 1, epoch: 'e1', time: 0, turnId: 't1', output }],
      }),
    );
    await recorder.until((r) => r.delivered.length === 1);
    expect(recorder.closedCalls).toHaveLength(0);
    expect(recorder.delivered[0]).toMatchObject({ type: 'turn.completed', output });
  });

  it('a frame before welcome fails the attempt as never opened', async () => {
    start();
    const conn = await server.next();
    conn.socket.send(JSON.stringify({ type: 'pong' }));
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ProtocolError);
  });
});

describe('websocket transport: ends', () => {
  it('a server close after open is a drop: closed once with opened:true and the close code', async () => {
    const { conn } = await opened();
    conn.socket.close(1001, 'bye');
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: true, code: 1001 });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ConnectionError);
    expect(recorder.closedCalls[0]?.error?.code).toBe('server_going_away');
    await sleep(30);
    expect(recorder.closedCalls).toHaveLength(1);
  });

  it('an abrupt TCP drop is reported once, as opened', async () => {
    const { conn } = await opened();
    conn.socket.terminate();
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.opened).toBe(true);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(ConnectionError);
  });

  it('a refused upgrade never opens; a 401 is the typed unauthorized, another refusal a ConnectionError (the ladder falls back)', async () => {
    server.wss.options.verifyClient = (_info: unknown, done: (ok: boolean, status?: number) => void) => done(false, 401);
    start();
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false, error: { code: 'unauthorized', status: 401 } });
    server.wss.options.verifyClient = (_info: unknown, done: (ok: boolean, status?: number) => void) => done(false, 403);
    start();
    await recorder.until((r) => r.closedCalls.length === 2);
    expect(recorder.closedCalls[1]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[1]?.error).toBeInstanceOf(ConnectionError);
  });

  it('no welcome within openTimeoutMs → TimeoutError, never opened', async () => {
    start({ openTimeoutMs: 1_000 });
    const conn = await server.next();
    clock.advance(999);
    expect(recorder.closedCalls).toEqual([]);
    clock.advance(1);
    expect(recorder.closedCalls).toHaveLength(1);
    expect(recorder.closedCalls[0]).toMatchObject({ opened: false });
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(TimeoutError);
    await conn.closed;
  });

  it('sends ping frames and closes a silent (half-open) socket after heartbeatTimeoutMs', async () => {
    const { conn } = await opened({ heartbeatTimeoutMs: 3_000 });
    clock.advance(1_000);
    await vi.waitFor(() => expect(frameOf(conn, 'ping')).toBeDefined());
    clock.advance(1_999);
    expect(recorder.closedCalls).toEqual([]);
    clock.advance(1);
    expect(recorder.closedCalls).toHaveLength(1);
    expect(recorder.closedCalls[0]?.opened).toBe(true);
    expect(recorder.closedCalls[0]?.error?.code).toBe('heartbeat_timeout');
    expect(clock.pending).toBe(0);
  });

  it('any frame counts as traffic and keeps the heartbeat alive', async () => {
    const counting = countingWebSocket();
    const { conn } = await opened({ heartbeatTimeoutMs: 3_000, WebSocket: counting.WebSocket });
    for (let i = 0; i < 4; i++) {
      clock.advance(2_000);
      const before = counting.received();
      conn.socket.send(JSON.stringify({ type: 'pong' }));
      await vi.waitFor(() => expect(conn.messages.filter((m) => m.type === 'ping').length).toBeGreaterThan(i));
      // The clock may move on only once the client has taken the pong (a fixed pause lost that race on a busy machine).
      await vi.waitFor(() => expect(counting.received()).toBe(before + 1));
    }
    expect(recorder.closedCalls).toEqual([]);
  });
});

describe('websocket transport: commands (F9)', () => {
  it('correlates replies by id, whatever their order', async () => {
    const { transport, conn } = await opened();
    const a = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'a', idempotencyKey: 'k1' });
    const b = transport.command!({ type: 'cancel', sessionId: 's1', turnId: 'turn0' });
    await vi.waitFor(() => expect(conn.messages).toHaveLength(2));
    const [fa, fb] = conn.messages as Array<{ id: string }>;
    expect(fa).toMatchObject({ type: 'prompt', prompt: 'a', idempotencyKey: 'k1' });
    expect(fa?.id).not.toBe(fb?.id);
    conn.socket.send(JSON.stringify({ type: 'reply', id: fb?.id, ok: true, result: { cancelled: false, reason: 'already_finished' } }));
    conn.socket.send(JSON.stringify({ type: 'reply', id: fa?.id, ok: true, result: { turn: turnInfo } }));
    await expect(a).resolves.toEqual({ turn: turnInfo });
    await expect(b).resolves.toEqual({ cancelled: false, reason: 'already_finished' });
  });

  it('an ok:false reply rejects with HttpError carrying status and code', async () => {
    const { transport, conn } = await opened();
    const p = transport.command!({ type: 'cancel', sessionId: 's1', turnId: 'nope' });
    await vi.waitFor(() => expect(conn.messages).toHaveLength(1));
    conn.socket.send(
      JSON.stringify({ type: 'reply', id: conn.messages[0]?.id, ok: false, error: { code: 'not_found', message: 'no turn', status: 404 } }),
    );
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    expect(recorder.closedCalls).toEqual([]); // a failed command does not end the socket
  });

  it('commands given before welcome are queued and sent after it', async () => {
    const transport = start();
    const p = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'early' });
    const conn = await server.next();
    await sleep(20);
    expect(conn.messages).toEqual([]);
    welcome(conn);
    await vi.waitFor(() => expect(frameOf(conn, 'prompt')).toMatchObject({ prompt: 'early' }));
    conn.socket.send(JSON.stringify({ type: 'reply', id: frameOf(conn, 'prompt')?.id, ok: true, result: { turn: turnInfo } }));
    await expect(p).resolves.toEqual({ turn: turnInfo });
  });

  it('a socket drop with a pending command rejects it with ConnectionError — never silently dropped (F9)', async () => {
    const { transport, conn } = await opened();
    const p = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'x', idempotencyKey: 'k' });
    await vi.waitFor(() => expect(conn.messages).toHaveLength(1));
    conn.socket.terminate();
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe('connection_lost');
    await recorder.until((r) => r.closedCalls.length === 1);
    await expect(transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'y' })).rejects.toBeInstanceOf(ConnectionError);
  });

  it('an aborted command rejects with signal.reason; the late reply is ignored', async () => {
    const { transport, conn } = await opened();
    const controller = new AbortController();
    const p = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'x' }, controller.signal);
    await vi.waitFor(() => expect(conn.messages).toHaveLength(1));
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    conn.socket.send(JSON.stringify({ type: 'reply', id: conn.messages[0]?.id, ok: true, result: { turn: turnInfo } }));
    await sleep(30);
    expect(recorder.closedCalls).toEqual([]);
    const pre = new AbortController();
    pre.abort(reason);
    await expect(transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'z' }, pre.signal)).rejects.toBe(reason);
  });

  it('a command aborted while queued before welcome is never sent', async () => {
    const transport = start();
    const controller = new AbortController();
    const p = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'never' }, controller.signal);
    controller.abort();
    await expect(p).rejects.toBeDefined();
    const conn = await server.next();
    welcome(conn);
    await recorder.until((r) => r.opened);
    await sleep(30);
    expect(frameOf(conn, 'prompt')).toBeUndefined();
  });

  it('a failed subscribe ends the attempt with HttpError naming the session', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('gone', { after: 0 });
    await vi.waitFor(() => expect(frameOf(conn, 'subscribe')).toBeDefined());
    conn.socket.send(
      JSON.stringify({ type: 'reply', id: frameOf(conn, 'subscribe')?.id, ok: false, error: { code: 'not_found', message: 'no session', status: 404 } }),
    );
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(recorder.closedCalls[0]?.error).toBeInstanceOf(HttpError);
    expect(recorder.closedCalls[0]?.error).toMatchObject({ status: 404, details: { sessionId: 'gone' } });
  });
});

describe('websocket transport: close() (F7) and stale callbacks (F4)', () => {
  it('sends close code 1000, rejects pending commands, calls no callback, leaves no timer', async () => {
    const { transport, conn } = await opened();
    const outcome = transport.command!({ type: 'prompt', sessionId: 's1', prompt: 'x' }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(conn.messages).toHaveLength(1));
    const before = recorder.calls.length;
    await transport.close(1_000);
    expect(await conn.closed).toBe(1000);
    expect(await outcome).toBeInstanceOf(ConnectionError);
    expect(recorder.calls.length).toBe(before); // close() does not call closed()
    expect(clock.pending).toBe(0);
    await expect(transport.close()).resolves.toBeUndefined(); // idempotent
  });

  it('close() flushes a frame still buffered before sending 1000 (F7: no lost tail)', async () => {
    const { transport, conn } = await opened();
    const big = 'x'.repeat(900_000);
    void transport.command!({ type: 'prompt', sessionId: 's1', prompt: big }).catch(() => {});
    await transport.close(2_000);
    expect(await conn.closed).toBe(1000);
    expect(frameOf(conn, 'prompt')?.prompt).toBe(big);
  });

  it('frames the server sends after close() reach no callback', async () => {
    const { transport, conn } = await opened();
    transport.subscribe('s1', { after: 0 });
    await vi.waitFor(() => expect(frameOf(conn, 'subscribe')).toBeDefined());
    const before = recorder.calls.length;
    const closing = transport.close(1_000);
    conn.socket.send(JSON.stringify({ type: 'events', sessionId: 's1', events: [delta('s1', 1)] }));
    conn.socket.send('not json');
    await closing;
    await sleep(30);
    expect(recorder.calls.length).toBe(before);
  });

  it('close() while connecting resolves and reports nothing', async () => {
    const transport = start();
    await transport.close(500);
    await sleep(50);
    expect(recorder.calls).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('after a failure, timers are gone and close() still resolves', async () => {
    const { transport, conn } = await opened();
    conn.socket.send('nope');
    await recorder.until((r) => r.closedCalls.length === 1);
    expect(clock.pending).toBe(0);
    await transport.close(500);
    expect(recorder.closedCalls).toHaveLength(1);
  });
});
