import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger } from '../../src/index.js';
import { createServer, memoryStore } from '../../src/server.js';

describe('Logger: one pino-shaped type for client and server', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a real pino logger receives the error object in `err`', async () => {
    const lines: Record<string, any>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const store = { ...memoryStore(), close: async () => Promise.reject(new Error('disk went away')) };
    const server = createServer({ agent: async function* () {}, store, logger: pino({ level: 'debug' }, sink) });
    await server.listen(0, '127.0.0.1');
    await server.close();
    const line = lines.find((l) => l.msg === 'agent-tether: store failed to close');
    expect(line).toBeDefined();
    expect(line?.err).toMatchObject({ type: 'Error', message: 'disk went away' });
    expect(line?.level).toBe(50); // pino's "error"
  });

  it('consoleLogger writes its level and above, message first, fields after', () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => {});
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const logger = consoleLogger('info');
    expect(logger.debug).toBeUndefined();
    logger.debug?.({}, 'hidden');
    logger.info?.({}, 'plain');
    logger.warn?.({ attempt: 3 }, 'with fields');
    expect(debug).not.toHaveBeenCalled();
    expect(info).toHaveBeenCalledWith('plain');
    expect(warn).toHaveBeenCalledWith('with fields', { attempt: 3 });
  });
});
