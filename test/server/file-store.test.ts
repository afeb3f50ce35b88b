import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SerializedWriter, atomicWriteFile } from '../../src/internal/atomic-write.js';
import { createServer, fileStore, type SessionRecord } from '../../src/server.js';
import type { SessionEvent } from '../../src/protocol/index.js';
import { api, createSession, onTeardown, prompt, scriptedAgent, silentLogger, SseReader, startServer } from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-store-'));
  onTeardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function record(id: string, version: number, padding = 0): SessionRecord {
  return {
    version: 1,
    id,
    epoch: 'e1',
    createdAt: version,
    seq: version,
    turns: [{ id: `t${version}`, status: 'completed', prompt: 'p'.repeat(padding), createdAt: version, queuedSeq: 1 }],
  };
}

describe('F10: atomic persistence', () => {
  // F10 (DESIGN.md §1): atomic persistence.
  it('F10: concurrent readers during writes never see an empty or torn session record', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    await store.load();
    await store.saveSession(record('s1', 0, 50_000));
    const path = store.recordPath('s1');
    let writing = true;
    let reads = 0;
    const seen = new Set<number>();
    const reader = async () => {
      while (writing) {
        const text = await readFile(path, 'utf8');
        reads++;
        expect(text.length).toBeGreaterThan(0);
        const parsed = JSON.parse(text) as SessionRecord; // throws on a torn record
        expect(parsed.turns[0]!.prompt).toHaveLength(50_000);
        seen.add(parsed.seq);
      }
    };
    // Failures are collected, not left as early unhandled rejections.
    const failures: unknown[] = [];
    const readers = [reader(), reader(), reader()].map((r) => r.catch((error: unknown) => failures.push(error)));
    const writes: Promise<void>[] = [];
    for (let version = 1; version <= 200; version++) {
      writes.push(store.saveSession(record('s1', version, 50_000)));
      if (version % 20 === 0) await writes.at(-1); // let some writes land between bursts
    }
    await Promise.all(writes);
    writing = false;
    await Promise.all(readers);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(JSON.parse(await readFile(path, 'utf8')).seq).toBe(200);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  // F10 (DESIGN.md §1): atomic persistence.
  it('F10: writers are serialized per key and superseded writes are coalesced', async () => {
    const calls: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = new SerializedWriter(async (_path, data) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      calls.push(String(data));
      if (calls.length === 1) await gate;
      inFlight--;
    });
    const results = [1, 2, 3, 4, 5].map((n) => writer.write('k', '/x', `v${n}`));
    release();
    await Promise.all(results);
    expect(calls).toEqual(['v1', 'v5']); // v2..v4 were superseded while v1 was in flight
    expect(maxInFlight).toBe(1);
    await writer.flush();
  });

  // F10 (DESIGN.md §1): atomic persistence.
  it('F10: a failed write rejects and leaves the previous version; a crash leftover temp file is ignored and removed on load', async () => {
    const dir = await tempDir();
    const path = join(dir, 'r.json');
    await atomicWriteFile(path, '{"v":1}');
    const failing = new SerializedWriter(async () => {
      throw new Error('disk full');
    });
    await expect(failing.write('r', path, '{"v":2}')).rejects.toThrow('disk full');
    expect(await readFile(path, 'utf8')).toBe('{"v":1}');

    const store = fileStore({ dir });
    await store.saveSession(record('s1', 7));
    // What a crash between "write temp" and "rename" leaves behind: a torn temp file.
    await writeFile(join(dir, `.${encodeURIComponent('s1')}.session.json.tmp-999-abc`), '{"version":1,"id":"s1","ep');
    const loaded = await fileStore({ dir }).load();
    expect(loaded.map((s) => s.record.seq)).toEqual([7]);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('a torn trailing JSONL line is ignored on load and cut off, so later appends start on a clean line', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    const event = (seq: number): SessionEvent => ({ type: 'turn.delta', sessionId: 's1', seq, epoch: 'e1', time: 0, turnId: 't', text: String(seq) });
    await store.saveSession({ ...record('s1', 0), seq: 2, turns: [] });
    await store.appendEvents('s1', [event(1), event(2)]);
    await writeFile(store.eventsPath('s1'), `${await readFile(store.eventsPath('s1'), 'utf8')}{"type":"turn.delta","sessi`);
    const reloaded = fileStore({ dir });
    const [session] = await reloaded.load();
    expect(session!.events.map((e) => e.seq)).toEqual([1, 2]);
    await reloaded.appendEvents('s1', [event(3)]);
    await reloaded.close();
    const [again] = await fileStore({ dir }).load();
    expect(again!.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('a server on a fileStore keeps sessions across a graceful restart: same epoch, seq continues, idempotency remembered', async () => {
    const dir = await tempDir();
    const script = scriptedAgent();
    const first = createServer({ agent: script.agent, store: fileStore({ dir }), logger: silentLogger });
    const { url } = await first.listen(0, '127.0.0.1');
    const sid = await createSession(url);
    const turnId = (await prompt(url, sid, 'x', 'c', 'key')).body.turn.id;
    const run = await script.next();
    run.delta('persisted');
    run.end();
    await run.finished;
    const before = (await api(url, 'GET', `/v1/sessions/${sid}`)).body.session;
    await first.close();
    const second = await startServer({ agent: script.agent, store: fileStore({ dir }) });
    const after = (await api(second.url, 'GET', `/v1/sessions/${sid}`)).body;
    expect(after.session).toMatchObject({ epoch: before.epoch, seq: 4 });
    expect(after.turns[0]).toMatchObject({ id: turnId, status: 'completed', terminal: { output: 'persisted' } });
    expect((await prompt(second.url, sid, 'x', 'c', 'key')).status).toBe(200);
  });

  // F10 (DESIGN.md §1): atomic persistence.
  it('F10: after SIGKILL of a server child mid-turn, a new server on the same dir ends the turn with turn.error interrupted, seen by a cursor-resuming reader', async () => {
    const dir = await tempDir();
    const script = fileURLToPath(new URL('./fixtures/child-server.mjs', import.meta.url));
    const child = spawn(process.execPath, ['--no-warnings', script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    onTeardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const childUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve(JSON.parse(line!).url);
      });
      child.once('exit', () => reject(new Error(`child exited early: ${stderr}`)));
    });
    const sid = await createSession(childUrl);
    const sse = new SseReader(`${childUrl}/v1/sessions/${sid}/events`);
    const turnId = (await prompt(childUrl, sid, 'long job', 'alice')).body.turn.id;
    await sse.until(() => sse.events.filter((e) => e.type === 'turn.delta').length >= 20, '20 deltas');
    const lastSeen = sse.events.at(-1)!;
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const { url } = await startServer({ agent: scriptedAgent().agent, store: fileStore({ dir }) });
    const resumed = new SseReader(`${url}/v1/sessions/${sid}/events?after=${lastSeen.seq}&epoch=${lastSeen.epoch}`);
    await resumed.until(() => resumed.terminal(turnId) !== undefined, 'interrupted');
    expect(resumed.resets).toEqual([]); // same epoch: the seqs the reader saw survived the crash
    const terminal = resumed.terminal(turnId)!;
    expect(terminal).toMatchObject({ type: 'turn.error', epoch: lastSeen.epoch, error: { code: 'interrupted', retryable: true } });
    // Contiguous: whatever deltas were durable after the reader's cursor, then the terminal with the next seq.
    expect(resumed.ids).toEqual(resumed.ids.map((_, i) => lastSeen.seq + 1 + i));
    const turn = (await api(url, 'GET', `/v1/sessions/${sid}/turns/${turnId}`)).body.turn;
    expect(turn).toMatchObject({ status: 'error', terminal: { error: { code: 'interrupted' } } });
  });
});

describe('history loss', () => {
  it('an unreadable/missing event log changes the epoch: a cursor-resuming reader gets reset epoch_changed, not a silent gap', async () => {
    const dir = await tempDir();
    const script = scriptedAgent();
    const first = createServer({ agent: script.agent, store: fileStore({ dir }), logger: silentLogger });
    const { url } = await first.listen(0, '127.0.0.1');
    const sid = await createSession(url);
    await prompt(url, sid, 'x');
    const run = await script.next();
    run.end();
    await run.finished;
    const { epoch, seq } = (await api(url, 'GET', `/v1/sessions/${sid}`)).body.session;
    await first.close();
    await rm(fileStore({ dir }).eventsPath(sid));
    const second = await startServer({ agent: script.agent, store: fileStore({ dir }) });
    const info = (await api(second.url, 'GET', `/v1/sessions/${sid}`)).body.session;
    expect(info.epoch).not.toBe(epoch);
    expect(info.seq).toBe(seq); // seq continues; nothing before it is held
    const sse = new SseReader(`${second.url}/v1/sessions/${sid}/events?after=${seq}&epoch=${epoch}`);
    await sse.until(() => sse.resets.length === 1, 'reset');
    expect(sse.resets[0]).toMatchObject({ reason: 'epoch_changed', epoch: info.epoch, after: seq });
  });
});
