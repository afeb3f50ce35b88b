// Without authentication the server binds to loopback unless told otherwise, and says at start that it runs without authentication.
import { describe, expect, it } from 'vitest';
import { createServer, tokenAuthenticator } from '../../src/server.js';
import { onTeardown, scriptedAgent } from '../server/helpers.js';

function recording() {
  const warnings: Array<{ fields: unknown; message: string }> = [];
  return { warnings, logger: { warn: (fields: unknown, message: string) => warnings.push({ fields, message }) } };
}

describe('no authentication: loopback and one line at start', () => {
  it('listen() without a host binds 127.0.0.1 and warns once that anyone reaching it may use every session', async () => {
    const { warnings, logger } = recording();
    const server = createServer({ agent: scriptedAgent().agent, logger });
    onTeardown(() => server.close());
    const { url } = await server.listen(0);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^agent-tether: running without authentication/);
    expect(warnings[0]!.fields).toMatchObject({ url, host: '127.0.0.1' });
  });

  it('the host option is where it binds when told otherwise', async () => {
    const { logger } = recording();
    const server = createServer({ agent: scriptedAgent().agent, logger, host: 'localhost' });
    onTeardown(() => server.close());
    const { url } = await server.listen(0);
    expect(['127.0.0.1', '[::1]']).toContain(new URL(url).hostname);
    expect(() => createServer({ agent: scriptedAgent().agent, host: '' })).toThrow(/`host`/);
  });

  it('with authenticate there is no such line', async () => {
    const { warnings, logger } = recording();
    const server = createServer({ agent: scriptedAgent().agent, logger, authenticate: tokenAuthenticator({ t: 'me' }) });
    onTeardown(() => server.close());
    await server.listen(0);
    expect(warnings).toEqual([]);
  });
});
