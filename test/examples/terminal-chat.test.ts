import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import { createFaultProxy, type FaultProxy } from '../../src/testing.js';
import { bundleForNode, Child } from './support.js';

type Server = ReturnType<typeof createServer>;

/** `hello` → a short reply; `hang` → `tick` every 50 ms until canceled. */
async function* agent({ prompt, signal }: { prompt: string; signal: AbortSignal }) {
  const words = prompt === 'hang' ? Number.POSITIVE_INFINITY : 4;
  for (let i = 0; i < words; i++) {
    await new Promise((resolve) => setTimeout(resolve, prompt === 'hang' ? 50 : 20));
    if (signal.aborted) return;
    yield { type: 'delta' as const, text: prompt === 'hang' ? 'tick ' : ['Hi', ' there,', ' good', ' friend.'][i]! };
  }
}

describe('examples/terminal-chat', () => {
  let chat: Awaited<ReturnType<typeof bundleForNode>>;
  let server: Server;
  let proxy: FaultProxy;
  const children: Child[] = [];

  beforeAll(async () => {
    chat = await bundleForNode('examples/terminal-chat/chat.mjs');
    server = createServer({ agent });
    const { url } = await server.listen(0, '127.0.0.1');
    proxy = await createFaultProxy({ target: url }).listen();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.dispose()));
    proxy.heal();
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await chat?.remove();
  });

  async function start(): Promise<Child> {
    const child = new Child(chat.file, ['--url', proxy.url]);
    children.push(child);
    await child.waitFor(/^session \S+ — type a prompt/m);
    await child.waitFor('[connected over websocket]');
    return child;
  }

  it('streams a reply, cancels on Ctrl-C, shows the connection dropping and recovering, quits on Ctrl-C twice', async () => {
    const child = await start();

    child.process.stdin.write('hello\n');
    await child.waitFor('agent › Hi there, good friend.\n[done]');

    // Ctrl-C while a reply streams: the turn is canceled, the bot keeps running.
    let mark = child.stdout.length;
    child.process.stdin.write('hang\n');
    await child.waitFor('agent › tick tick', { after: mark });
    child.process.kill('SIGINT');
    await child.waitFor('^C — canceling this reply (Ctrl-C again quits)', { after: mark });
    await child.waitFor('[canceled by you]', { after: mark });
    expect(child.process.exitCode).toBeNull();

    // The connection drops: the bot says it is offline, then back.
    mark = child.stdout.length;
    expect(proxy.reset()).toBeGreaterThan(0);
    await child.waitFor(/\[offline — reconnecting \(attempt \d+\)\]/, { after: mark });
    await child.waitFor('[back online over websocket]', { after: mark });

    // …and works as before.
    mark = child.stdout.length;
    child.process.stdin.write('hello\n');
    await child.waitFor('agent › Hi there, good friend.\n[done]', { after: mark });

    // Idle, Ctrl-C only explains; a second one quits.
    mark = child.stdout.length;
    child.process.kill('SIGINT');
    await child.waitFor('^C — press Ctrl-C again to quit', { after: mark });
    expect(child.process.exitCode).toBeNull();
    child.process.kill('SIGINT');
    expect(await child.exit()).toEqual({ code: 0, signal: null });
    expect(child.stdout.slice(mark)).toContain('bye');
    expect(child.stderr).toBe('');
  });

  it('never prints a status line inside a reply: the reply breaks, and resumes under its prefix', async () => {
    const child = await start();
    const mark = child.stdout.length;
    child.process.stdin.write('hang\n');
    await child.waitFor('agent › tick tick', { after: mark });
    // The connection drops while the reply streams: the offline line gets a line of its own.
    expect(proxy.reset()).toBeGreaterThan(0);
    await child.waitFor('[back online over websocket]\nagent › …tick', { after: mark });
    const out = child.stdout.slice(mark);
    expect(out).toMatch(/^agent › (tick )+\n\[offline — reconnecting \(attempt \d+\)\]\n/);
    expect(out).not.toMatch(/[^\n]\[(offline|back online|connected)/);
  });

  it('tells the user when the server no longer knows the session, and /new starts a fresh one', async () => {
    const child = new Child(chat.file, ['--url', proxy.url, '--session', 'forgotten-session']);
    children.push(child);
    await child.waitFor('[session forgotten-session no longer exists on the server — type /new to start a new session]');
    expect(child.stdout).not.toContain('reconnecting');
    const mark = child.stdout.length;
    child.process.stdin.write('/new\n');
    await child.waitFor(/session \S+ — a new session; type a prompt/, { after: mark });
    child.process.stdin.write('hello\n');
    await child.waitFor('agent › Hi there, good friend.\n[done]', { after: mark });
    child.process.kill('SIGINT');
    await child.waitFor('^C — press Ctrl-C again to quit', { after: mark });
    child.process.kill('SIGINT');
    expect((await child.exit()).code).toBe(0);
  });

  it('quits at once on two Ctrl-Cs during a reply', async () => {
    const child = await start();
    child.process.stdin.write('hang\n');
    await child.waitFor('agent › tick');
    child.process.kill('SIGINT');
    await child.waitFor('canceling this reply');
    child.process.kill('SIGINT');
    expect(await child.exit()).toEqual({ code: 0, signal: null });
    expect(child.stdout).toMatch(/bye\n$/);
  });

  it('answers every piped line, then exits 0 at the end of input', async () => {
    const child = new Child(chat.file, ['--url', proxy.url]);
    children.push(child);
    child.process.stdin.end('hello\nhello\n');
    expect(await child.exit()).toEqual({ code: 0, signal: null });
    expect(child.stdout.match(/agent › Hi there, good friend\.\n\[done\]/g)).toHaveLength(2);
    expect(child.stdout).toMatch(/bye\n$/);
  });

  it('says so when the server cannot be reached', async () => {
    const child = new Child(chat.file, ['--url', 'http://127.0.0.1:9']);
    children.push(child);
    expect((await child.exit(20_000)).code).toBe(1);
    expect(child.stdout).toContain('cannot reach http://127.0.0.1:9');
  }, 25_000);
});
