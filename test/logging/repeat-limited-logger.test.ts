/** Identical warn/error lines collapse: a few per window, then a count; a client aborting mid-body is not an error at all. */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { repeatLimitedLogger } from '../../src/logging/repeat-limited-logger.js';
import type { LogFields } from '../../src/logging/logger.js';
import { createServer } from '../../src/server.js';
import { onTeardown, scriptedAgent } from '../server/helpers.js';

function recorder() {
  const lines: Array<{ level: string; fields: LogFields; message: string }> = [];
  const log = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } };
}

describe('repeatLimitedLogger', () => {
  it('writes maxLines identical lines per window, one notice, then the count with the first line of the next window', () => {
    let now = 0;
    const { lines, logger } = recorder();
    const limited = repeatLimitedLogger(logger, { maxLines: 3, windowMs: 1000, clock: { now: () => now } });
    for (let i = 0; i < 20; i++) limited.error?.({ i }, 'same');
    limited.error?.({}, 'other');
    limited.warn?.({}, 'same');
    expect(lines.filter((l) => l.message === 'same' && l.level === 'error').map((l) => l.fields.i)).toEqual([0, 1, 2]);
    expect(lines.filter((l) => l.message.startsWith('same (repeated')).length).toBe(1);
    expect(lines.filter((l) => l.message === 'other').length).toBe(1);
    expect(lines.filter((l) => l.level === 'warn').length).toBe(1);
    now = 1000;
    limited.error?.({ i: 20 }, 'same');
    expect(lines.at(-1)).toMatchObject({ level: 'error', message: 'same', fields: { i: 20, repeated: 17 } });
  });

  it('leaves debug and info alone', () => {
    const { lines, logger } = recorder();
    const limited = repeatLimitedLogger(logger, { maxLines: 1, windowMs: 1000, clock: { now: () => 0 } });
    for (let i = 0; i < 5; i++) limited.info?.({}, 'request');
    expect(lines.length).toBe(5);
  });
});

describe('server log flood', () => {
  it('clients aborting mid-body are not errors: 50 aborts write no error line', async () => {
    const { lines, logger } = recorder();
    const server = createServer({ agent: scriptedAgent().agent, logger });
    onTeardown(() => server.close({ timeoutMs: 2000 }));
    const { url } = await server.listen(0, '127.0.0.1');
    const port = Number(new URL(url).port);
    await Promise.all(
      Array.from({ length: 50 }, () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write('POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"meta');
            setTimeout(() => socket.destroy(), 20);
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve());
        }),
      ),
    );
    await expect.poll(() => lines.filter((l) => l.level === 'info' && l.message === 'agent-tether: request').length).toBe(50);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(server.stats().sessions).toBe(0);
  });
});
