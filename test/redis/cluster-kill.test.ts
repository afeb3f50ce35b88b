import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/protocol/index.js';
import { demoAgent, redisStore } from '../../src/server.js';
import { Child } from '../examples/support.js';
import { bundledCli } from '../cli/bundled-cli.js';
import { requireRedisServer, startRedisServer } from '../support/redis-server.js';
import { api, createSession, prompt, SseReader, startServer, WsClient } from '../server/helpers.js';

const redisBin = requireRedisServer('cluster runner killed (two servers, one Redis)');
const cli = bundledCli();

/**
 * One Redis, node A (the runner: a `serve --redis` child process, to be SIGKILLed) and
 * node B (in this process, on the same Redis). Disposing stops A, then Redis.
 */
async function twoNodes() {
  const redis = await startRedisServer({ binary: redisBin! });
  const runner = new Child(cli.file, ['serve', '--port', '0', '--redis', redis.url, '--log-level', 'warn']);
  const dispose = async () => {
    await runner[Symbol.asyncDispose]();
    await redis[Symbol.asyncDispose]();
  };
  try {
    const out = await runner.waitFor(/listening on (http:\/\/\S+) /, { timeoutMs: 30_000 });
    const aUrl = /listening on (http:\/\/\S+) /.exec(out)![1]!;
    const { url: bUrl } = await startServer({ agent: demoAgent({ delayMs: 0 }), store: redisStore({ url: redis.url }) });
    return { runner, aUrl, bUrl, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

describe.skipIf(!redisBin)('cluster: the runner process is killed', () => {
  it('SIGKILL of the runner mid-turn: the other node ends the turn interrupted, runs the queued turn, and its readers see every event once', async () => {
    await using nodes = await twoNodes();
    const { runner, aUrl, bUrl } = nodes;

    const sid = await createSession(aUrl);
    const first = (await prompt(aUrl, sid, 'slow reply please')).body.turn.id as string;
    const second = await prompt(bUrl, sid, 'next one');
    expect(second.status).toBe(201);

    const events: SessionEvent[] = [];
    const read = async () => {
      const reply = await api(bUrl, 'GET', `/v1/sessions/${sid}/poll?after=${events.at(-1)?.seq ?? 0}&wait=500`);
      events.push(...(reply.body.events as SessionEvent[]));
    };
    while (!events.some((e) => e.type === 'turn.delta' && e.turnId === first)) await read();
    runner.process.kill('SIGKILL');
    const killedAt = Date.now();
    const done = () => events.some((e) => e.type === 'turn.completed' && e.turnId === second.body.turn.id);
    while (!done()) {
      if (Date.now() - killedAt > 20_000) throw new Error(`no failover: ${events.map((e) => `${e.seq}:${e.type}`).join(' ')}`);
      await read();
    }
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const terminals = events.filter((e) => e.turnId === first && ['turn.completed', 'turn.canceled', 'turn.error'].includes(e.type));
    expect(terminals).toEqual([expect.objectContaining({ type: 'turn.error', error: expect.objectContaining({ code: 'interrupted' }) })]);
    expect(events.filter((e) => e.type === 'turn.started' && e.turnId === second.body.turn.id)).toHaveLength(1);
  }, 90_000);

  it('SIGKILL of the runner: SSE and WebSocket streams already open on the adopting node get the interrupted terminal and the next turn, seq contiguous, once each', async () => {
    await using nodes = await twoNodes();
    const { runner, aUrl, bUrl } = nodes;

    const sid = await createSession(aUrl);
    const first = (await prompt(aUrl, sid, 'slow reply please')).body.turn.id as string;
    // Both streams read B's replica of the session A runs.
    const sse = new SseReader(`${bUrl}/v1/sessions/${sid}/events?after=0`);
    const ws = new WsClient(bUrl, 'ws-on-b');
    await ws.request({ type: 'subscribe', sessionId: sid });
    const firstDelta = (events: SessionEvent[]) => events.some((e) => e.type === 'turn.delta' && e.turnId === first);
    await sse.until(() => firstDelta(sse.events), 'sse delta');
    await ws.until(() => firstDelta(ws.events), 'ws delta');
    runner.process.kill('SIGKILL');

    await sse.until(() => sse.terminal(first) !== undefined, 'sse interrupted', 20_000);
    await ws.until(() => ws.terminal(first) !== undefined, 'ws interrupted', 20_000);
    for (const reader of [sse, ws]) expect(reader.terminal(first)).toMatchObject({ type: 'turn.error', error: { code: 'interrupted' } });
    const next = (await prompt(bUrl, sid, 'next one')).body.turn.id as string;
    await sse.until(() => sse.terminal(next) !== undefined, 'sse next turn');
    await ws.until(() => ws.terminal(next) !== undefined, 'ws next turn');
    for (const reader of [sse, ws]) {
      expect(reader.terminal(next)).toMatchObject({ type: 'turn.completed' });
      expect(reader.events.map((e) => e.seq)).toEqual(reader.events.map((_, i) => i + 1));
      expect(new Set(reader.events.map((e) => e.epoch)).size).toBe(1);
    }
    const log = await api(bUrl, 'GET', `/v1/sessions/${sid}/poll?after=0`);
    expect(sse.events).toEqual(log.body.events);
    expect(ws.events).toEqual(log.body.events);
  }, 90_000);
});
