import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import { buildChild, runChild } from '../integration/helpers.js';

let server: ReturnType<typeof createServer>;
let url: string;
let dir: string;

beforeAll(async () => {
  server = createServer({
    agent: async function* () {
      yield { type: 'delta' as const, text: 'bye' };
    },
  });
  ({ url } = await server.listen(0, '127.0.0.1'));
  dir = await mkdtemp(join(tmpdir(), 'tether-child-'));
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** F7: after close(), nothing the client created keeps a Node process alive (no process.exit in the child). */
it.each(['websocket', 'sse', 'poll'])('a child process using the client over %s exits on its own after close()', async (transport) => {
  const file = await buildChild(
    dir,
    `child-${transport}`,
    `
      import { createClient } from '@tether';
      const client = createClient({ baseUrl: process.argv[2], transports: [${JSON.stringify(transport)}] });
      const session = await client.createSession();
      const sub = session.subscribe({ after: 0 });
      const turn = await session.prompt('hi');
      const end = await turn.result;
      await client.close();
      console.log(end.type);
    `,
  );
  const child = await runChild(file, [url]);
  expect(await child.exit(8000)).toBe(0);
  expect(child.stderr()).toBe('');
  expect(child.lines).toEqual(['turn.completed']);
});
