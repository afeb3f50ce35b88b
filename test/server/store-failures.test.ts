import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/protocol/index.js';
import { createCore, fileStore, memoryStore, type SessionStore } from '../../src/server.js';
import { api, createSession, eventually, onTeardown, prompt, scriptedAgent, startServer } from './helpers.js';
import { canRunChildAs, failedChild, startChild } from './child-server.js';

/** A memoryStore whose writes fail while `down` is true (the outage a full or read-only disk causes). */
function switchableStore() {
  const base = memoryStore();
  const state = { down: false, writes: 0 };
  const guard = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => async (...args: A) => {
    state.writes++;
    if (state.down) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return fn(...args);
  };
  const store: SessionStore = {
    ...base,
    saveSession: guard(base.saveSession),
    appendEvents: guard(base.appendEvents),
    saveTurn: guard(base.saveTurn),
  };
  return { store, base, state };
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info') } };
}

describe('write failures are failures', () => {
  it('an outage: running turns end with store_unavailable, prompts and cancels get 503, one log line each way, and it recovers', async () => {
    const { store, base, state } = switchableStore();
    const { lines, logger } = recordingLogger();
    const script = scriptedAgent();
    const core = createCore({ agent: script.agent, store, logger });
    onTeardown(() => core.shutdown());
    await core.start();
    const { id } = await core.createSession();
    const { turn } = await core.prompt(id, { prompt: 'long', idempotencyKey: 'k1' });
    const run = await script.next();
    run.delta('stored');
    await eventually(() => (core.stats().events >= 3 && state.writes >= 3), 'first delta written');
    await new Promise((resolve) => setTimeout(resolve, 20));

    state.down = true;
    for (let i = 0; i < 50; i++) run.delta(`lost ${i}`); // 50 events that cannot be stored: one outage, not 50 log lines
    await eventually(() => run.input.signal.aborted, 'the running turn ended by the outage');
    await expect(core.prompt(id, { prompt: 'during' })).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    await expect(core.createSession()).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/store failed/);

    state.down = false; // the disk has room again: the writer's retry gets through
    await eventually(() => lines.some((l) => l.level === 'warn' && /recovered/.test(l.message)), 'recovery logged', 10_000);
    const info = (await core.getTurn(id, turn.id))!;
    expect(info).toMatchObject({ status: 'error', terminal: { type: 'turn.error', error: { code: 'store_unavailable', retryable: true } } });
    // The same idempotency key now makes a new turn: the failed one must not answer for it.
    const again = await core.prompt(id, { prompt: 'long', idempotencyKey: 'k1' });
    expect(again.created).toBe(true);
    (await script.next()).end();
    await eventually(() => core.stats().runningTurns === 0 && core.stats().queuedTurns === 0, 'second turn done');
    // What the store holds is contiguous: the outage lost nothing that was queued for it.
    const stored = (await base.loadSession(id, { maxEvents: 10_000 }))!.events;
    expect(stored.map((e: SessionEvent) => e.seq)).toEqual(stored.map((_: SessionEvent, i: number) => i + 1));
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it('HTTP: a prompt whose turn cannot be stored answers 503 store_unavailable with Retry-After and a JSON body, never 201', async () => {
    const { store, state } = switchableStore();
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, store });
    const sid = await createSession(url);
    state.down = true;
    const response = await fetch(`${url}/v1/sessions/${sid}/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x' }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(await response.json()).toMatchObject({ error: { code: 'store_unavailable', status: 503 } });
    expect(script.runs.length).toBeLessThanOrEqual(1);
    state.down = false;
    await eventually(() => true, 'tick');
    // Recovered: the retried write went through, and new prompts are acknowledged again.
    expect((await promptUntilAccepted(url, sid, 'later')).status).toBe(201);
  });
});


/** Prompts until the server accepts again (201) or 100 tries pass; returns the last reply. */
async function promptUntilAccepted(url: string, sid: string, text: string) {
  let reply = await prompt(url, sid, text);
  for (let i = 1; i < 100 && reply.status !== 201; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    reply = await prompt(url, sid, text);
  }
  return reply;
}
// A real full / read-only file system: a small tmpfs (needs root and mount; skipped loudly elsewhere).
const canMount = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!canMount) console.warn('store-failures: skipping the tmpfs disk-full / read-only tests (they need root and `mount`)');

async function tmpfs(sizeKb: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  onTeardown(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

describe.skipIf(!canMount)('a real disk: full, read-only', () => {
  it('disk full: no prompt is acknowledged that was not stored; the server stays up and recovers when space is freed', async () => {
    const dir = await tmpfs(512);
    const script = scriptedAgent();
    const { url, server } = await startServer({ agent: script.agent, store: fileStore({ dir: join(dir, 'store') }) });
    const sid = await createSession(url);
    // Fill the disk but for a few KiB.
    await writeFile(join(dir, 'filler'), Buffer.alloc(500 * 1024)).catch(() => {});
    const acknowledged: string[] = [];
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const reply = await prompt(url, sid, `p${i} ${'x'.repeat(2000)}`);
      if (reply.status === 201) acknowledged.push(reply.body.turn.id);
      else {
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({ error: { code: 'store_unavailable' } });
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    await rm(join(dir, 'filler'));
    let status = 0;
    for (let i = 0; i < 100 && status !== 201; i++) {
      const reply = await prompt(url, sid, 'after');
      status = reply.status;
      if (status === 201) acknowledged.push(reply.body.turn.id);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(201);
    await server.close();
    // Every acknowledged turn is there after a restart.
    const second = await startServer({ agent: script.agent, store: fileStore({ dir: join(dir, 'store') }) });
    for (const turnId of acknowledged) {
      expect((await api(second.url, 'GET', `/v1/sessions/${sid}/turns/${turnId}`)).status).toBe(200);
    }
  });

  it('read-only: start-up says so; a store made read-only while running answers 503 and recovers once writable', async () => {
    const dir = await tmpfs(1024);
    const store = join(dir, 'store');
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, store: fileStore({ dir: store }) });
    const sid = await createSession(url);
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const refused = await prompt(url, sid, 'x');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'store_unavailable', message: expect.stringMatching(/EROFS/) } });
    const late = startServer({ agent: script.agent, store: fileStore({ dir: store }) });
    await expect(late).rejects.toThrow(`fileStore: the store directory ${store} is not writable: EROFS`);
    execFileSync('mount', ['-o', 'remount,rw', dir]);
    expect((await promptUntilAccepted(url, sid, 'after')).status).toBe(201);
  });
});

// A real EACCES: the server runs in a child as an unprivileged user (root ignores mode bits).
const nobody = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  try {
    const user = { uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })) };
    return canRunChildAs(user) ? user : undefined;
  } catch {
    return undefined;
  }
})();
if (!nobody) {
  console.warn('store-failures: skipping the EACCES tests (they need root, a `nobody` user, and a checkout that user can read)');
}

/** A directory every user can traverse, removed after the test. */
async function openParent(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'tether-eacces-'));
  await chmod(parent, 0o755);
  onTeardown(() => rm(parent, { recursive: true, force: true }));
  return parent;
}

describe.skipIf(!nobody)('a real EACCES: the server as an unprivileged user', () => {
  it.each([
    ['read-only (0o500, owned by root)', 0o500],
    ['mode 000', 0o000],
  ])('start-up on a store directory it cannot write, %s: exits non-zero and says which directory and why', async (_, mode) => {
    const store = join(await openParent(), 'store');
    await mkdir(store, { mode });
    await chmod(store, mode);
    const { code, stderr } = await failedChild(store, 'heavy', nobody!);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`fileStore: the store directory ${store} is not writable: EACCES`);
  });

  it('a store denied while running: 503 store_unavailable with Retry-After and a JSON body, nothing acknowledged that was not stored, recovery once allowed again', async () => {
    const store = join(await openParent(), 'store');
    await mkdir(store, { mode: 0o700 });
    await chown(store, nobody!.uid, nobody!.gid);
    const first = await startChild(store, 'heavy', nobody!);
    const sid = await createSession(first.url);
    const acknowledged: string[] = [];
    const before = await prompt(first.url, sid, 'before');
    expect(before.status).toBe(201);
    acknowledged.push(before.body.turn.id);

    await chmod(store, 0o000);
    const refused = await prompt(first.url, sid, 'denied');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.headers.get('content-type')).toMatch(/application\/json/);
    // The refusal names the denied write, or — when the running turn's own appends failed first —
    // says this session's earlier writes are not stored yet; both are the same outage.
    expect(refused.body).toMatchObject({ error: { code: 'store_unavailable', status: 503, message: expect.stringMatching(/EACCES|not stored yet/) } });
    expect((await api(first.url, 'POST', '/v1/sessions', {})).status).toBe(503);

    await chmod(store, 0o700);
    const after = await promptUntilAccepted(first.url, sid, 'after');
    expect(after.status).toBe(201);
    acknowledged.push(after.body.turn.id);
    first.child.kill('SIGKILL');
    await first.exited;

    // Every acknowledged turn is on disk: a new server (same user) serves each one.
    const second = await startChild(store, 'heavy', nobody!);
    for (const turnId of acknowledged) {
      expect((await api(second.url, 'GET', `/v1/sessions/${sid}/turns/${turnId}`)).status).toBe(200);
    }
  });
});
