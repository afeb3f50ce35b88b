import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requireRedisServer, startRedisServer } from '../support/redis-server.js';

const redisBin = requireRedisServer('redis-server test helper');

/** Send one inline command over a raw socket and return the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0]!);
      }
    });
    socket.once('connect', () => socket.write(`${line}\r\n`));
  });
}

describe.skipIf(!redisBin)('startRedisServer', () => {
  it('starts on a loopback port, stops, and restarts on the same port keeping AOF data', async () => {
    await using redis = await startRedisServer({ binary: redisBin!, appendOnly: true });
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await command(redis.port, 'SET k v')).toBe('+OK');
    await redis.stop();
    expect(redis.running).toBe(false);
    await expect(command(redis.port, 'PING')).rejects.toThrow();
    await redis.start();
    expect(await command(redis.port, 'GET k')).toBe('$1');
  });

  it('without AOF a restart loses the data', async () => {
    await using redis = await startRedisServer({ binary: redisBin! });
    expect(await command(redis.port, 'SET k v')).toBe('+OK');
    await redis.stop({ kill: true });
    await redis.start();
    expect(await command(redis.port, 'GET k')).toBe('$-1');
  });
});
