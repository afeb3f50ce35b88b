import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SerializedWriter, atomicWriteFile } from '../../src/internal/atomic-write.js';
import { createServer, fileStore, type SessionRecord } from '../../src/server.js';
import { api, createSession, logUntil, onTeardown, prompt, scriptedAgent, silentLogger, SseReader, startServer } from './helpers.js';
import { event, sessionRecord, storeContract } from './store-contract.js';

function record(id: string, version: number, padding = 0): SessionRecord {
  return sessionRecord(id, { createdAt: version, metadata: { padding: 'p'.repeat(padding) } });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-store-'));
  onTeardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

storeContract(
  'fileStore',
  async () => {
    const dir = await tempDir();
    return { store: fileStore({ dir }), reopen: async () => fileStore({ dir }) };
  },
  // Trimming deletes whole segments of maxEvents / 8 (at least 16) events.
  { slack: (maxEvents) => Math.max(16, Math.ceil(maxEvents / 8)) },
);

const segments = async (dir: string, sid: string) => (await readdir(join(fileStore({ dir }).sessionDir(sid), 'events'))).sort();
const segmentPath = async (dir: string, sid: string, index: number) =>
  join(fileStore({ dir }).sessionDir(sid), 'events', (await segments(dir, sid)).at(index)!);

describe('F10: atomic persistence', () => {
  // F10 (DESIGN.md §1): atomic persistence.
  it('F10: concurrent readers during writes never see an empty or torn session record', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    await store.saveSession(record('s1', 0, 50_000));
    const path = join(store.sessionDir('s1'), 'session.json');
    let writing = true;
    let reads = 0;
    const seen = new Set<number>();
    const reader = async () => {
      while (writing) {
        const text = await readFile(path, 'utf8');
        reads++;
        expect(text.length).toBeGreaterThan(0);
        const parsed = JSON.parse(text) as SessionRecord; // throws on a torn record
        expect(parsed.metadata!.padding).toHaveLength(50_000);
        seen.add(parsed.createdAt);
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
    expect(JSON.parse(await readFile(path, 'utf8')).createdAt).toBe(200);
    expect((await readdir(store.sessionDir('s1'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
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
  it('F10: a failed write rejects and leaves the previous version; a crash leftover temp file is ignored and removed on load once stale', async () => {
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
    const crashed = join(store.sessionDir('s1'), '.session.json.tmp-999-abc');
    const inFlight = join(store.sessionDir('s1'), '.session.json.tmp-1000-def');
    await writeFile(crashed, '{"version":2,"id":"s1","ep');
    await writeFile(inFlight, '{"version":2,"id":"s1","ep');
    const minuteAndMore = new Date(Date.now() - 61_000);
    await utimes(crashed, minuteAndMore, minuteAndMore);
    const loaded = await fileStore({ dir }).loadSession('s1', { maxEvents: 10 });
    expect(loaded!.record.createdAt).toBe(7);
    // The old one is a crash leftover; a fresh one may be another process's write about to be renamed.
    expect((await readdir(store.sessionDir('s1'))).filter((n) => n.includes('.tmp-'))).toEqual(['.session.json.tmp-1000-def']);
  });

  it('a torn trailing JSONL line is ignored on load and cut off, so later appends start on a clean line', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    await store.saveSession(sessionRecord('s1'));
    await store.appendEvents('s1', [event('s1', 1), event('s1', 2)], { maxEvents: 100 });
    const path = await segmentPath(dir, 's1', -1);
    await writeFile(path, `${await readFile(path, 'utf8')}{"type":"turn.delta","sessi`);
    const reloaded = fileStore({ dir });
    const session = await reloaded.loadSession('s1', { maxEvents: 100 });
    expect(session!.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(session!.problems).toBeUndefined(); // a crash mid-append is expected, not damage
    await reloaded.appendEvents('s1', [event('s1', 3)], { maxEvents: 100 });
    await reloaded.close();
    const again = await fileStore({ dir }).loadSession('s1', { maxEvents: 100 });
    expect(again!.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('a corrupt or missing line in the middle is reported as a problem, and the intact tail after it is served', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    await store.saveSession(sessionRecord('s1'));
    await store.appendEvents('s1', Array.from({ length: 10 }, (_, i) => event('s1', i + 1)), { maxEvents: 100 });
    const path = await segmentPath(dir, 's1', -1);
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[3] = '{"broken';
    await writeFile(path, lines.join('\n'));
    const loaded = await fileStore({ dir }).loadSession('s1', { maxEvents: 100 });
    expect(loaded!.events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(loaded!.problems).toEqual([expect.stringMatching(/:4: corrupt line/)]);
    lines.splice(3, 1); // now a gap: 3 is followed by 5
    await writeFile(path, lines.join('\n'));
    const gap = await fileStore({ dir }).loadSession('s1', { maxEvents: 100 });
    expect(gap!.events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(gap!.problems).toEqual([expect.stringMatching(/expected seq 4, found 5/)]);
  });

  it('segments: trimming deletes whole old segment files; a restart reads only the segments of the retained tail', async () => {
    const dir = await tempDir();
    const store = fileStore({ dir });
    await store.saveSession(sessionRecord('s1'));
    const maxEvents = 160; // segments of 20 events
    for (let seq = 1; seq <= 2000; seq += 50) {
      await store.appendEvents('s1', Array.from({ length: 50 }, (_, i) => event('s1', seq + i)), { maxEvents });
    }
    const names = await segments(dir, 's1');
    expect(names.length).toBeLessThanOrEqual(9); // 160 / 20 + the one being filled
    const first = Number(names[0]!.slice(0, -'.jsonl'.length));
    expect(first).toBeGreaterThan(2000 - maxEvents - 20); // what is left is the tail, give or take one segment
    // An old segment a crash left behind, full of garbage: a restart must not even read it.
    await writeFile(join(fileStore({ dir }).sessionDir('s1'), 'events', '0000000000000001.jsonl'), 'garbage\n'.repeat(20));
    const loaded = await fileStore({ dir }).loadSession('s1', { maxEvents });
    expect(loaded!.problems).toBeUndefined();
    expect(loaded!.events.map((e) => e.seq)).toEqual(Array.from({ length: maxEvents }, (_, i) => 2000 - maxEvents + 1 + i));
  });

  it('start-up says exactly what is wrong with the store path: a file instead of a directory', async () => {
    const dir = await tempDir();
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    await expect(fileStore({ dir: file }).open!()).rejects.toThrow(`fileStore: ${file} is not a directory`);
    const server = createServer({ agent: scriptedAgent().agent, store: fileStore({ dir: file }), logger: silentLogger });
    await expect(server.listen(0, '127.0.0.1')).rejects.toThrow(/is not a directory/);
    await server.close();
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
    expect(second.server.core.stats().sessions).toBe(1); // loaded on demand, not at start
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
    await logUntil(first, sid, (e) => e.type === 'turn.completed');
    const { epoch, seq } = (await api(url, 'GET', `/v1/sessions/${sid}`)).body.session;
    await first.close();
    await rm(join(fileStore({ dir }).sessionDir(sid), 'events'), { recursive: true });
    const second = await startServer({ agent: script.agent, store: fileStore({ dir }) });
    const info = (await api(second.url, 'GET', `/v1/sessions/${sid}`)).body.session;
    expect(info.epoch).not.toBe(epoch);
    expect(info.seq).toBe(seq); // seq continues; nothing before it is held
    const sse = new SseReader(`${second.url}/v1/sessions/${sid}/events?after=${seq}&epoch=${epoch}`);
    await sse.until(() => sse.resets.length === 1, 'reset');
    expect(sse.resets[0]).toMatchObject({ reason: 'epoch_changed', epoch: info.epoch, after: seq });
  });
});

describe('upgrade from the previous layout', () => {
  it('sessions of the one-file-per-session layout move into the new one: history, turns and unfinished turns kept', async () => {
    const dir = await tempDir();
    const sid = 'old-session';
    const events = [1, 2, 3].map((seq) => ({ type: seq === 1 ? 'turn.queued' : 'turn.delta', sessionId: sid, seq, epoch: 'e-old', time: seq, turnId: 't2', ...(seq === 1 ? { prompt: 'p' } : { text: 'x' }) }));
    await writeFile(join(dir, `${sid}.events.jsonl`), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    await writeFile(
      join(dir, `${sid}.session.json`),
      JSON.stringify({
        version: 1,
        id: sid,
        epoch: 'e-old',
        createdAt: 5,
        seq: 3,
        turns: [
          { id: 't1', status: 'completed', prompt: 'a', createdAt: 1, queuedSeq: 0, terminal: { type: 'turn.completed', seq: 0, output: 'done' } },
          { id: 't2', status: 'running', prompt: 'p', createdAt: 2, queuedSeq: 1 },
        ],
      }),
    );
    const script = scriptedAgent();
    const { url } = await startServer({ agent: script.agent, store: fileStore({ dir }) });
    const snapshot = (await api(url, 'GET', `/v1/sessions/${sid}`)).body;
    expect(snapshot.session).toMatchObject({ epoch: 'e-old', seq: 4 }); // 3 kept + the interrupted terminal of t2
    expect(snapshot.turns.map((t: { id: string; status: string }) => [t.id, t.status])).toEqual([
      ['t1', 'completed'],
      ['t2', 'error'],
    ]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.json') || name.endsWith('.jsonl'))).toEqual([]);
  });
});

describe('upgrade from the previous layout: a log longer than the retention', () => {
  it('the first load keeps only the retained tail on disk, so later restarts read the tail, not the whole old log', async () => {
    const dir = await tempDir();
    const sid = 'long-old-session';
    const lines = [];
    for (let seq = 1; seq <= 1000; seq++) lines.push(`${JSON.stringify({ type: 'turn.delta', sessionId: sid, seq, epoch: 'e-old', time: seq, turnId: 't1', text: `d${seq}` })}\n`);
    await writeFile(join(dir, `${sid}.events.jsonl`), lines.join(''));
    await writeFile(join(dir, `${sid}.session.json`), JSON.stringify({ version: 1, id: sid, epoch: 'e-old', createdAt: 0, turns: [] }));
    const onDisk = async (store: ReturnType<typeof fileStore>) => {
      let count = 0;
      for (const name of await readdir(join(store.sessionDir(sid), 'events'))) count += (await readFile(join(store.sessionDir(sid), 'events', name), 'utf8')).split('\n').length - 1;
      return count;
    };
    const first = fileStore({ dir });
    const loaded = await first.loadSession(sid, { maxEvents: 100 });
    expect(loaded?.problems).toBeUndefined();
    expect(loaded?.events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 901 + i));
    expect(await onDisk(first)).toBe(100);
    await first.close();
    // A restart serves the same tail, under the same epoch, and appends continue it.
    const second = fileStore({ dir });
    const again = await second.loadSession(sid, { maxEvents: 100 });
    expect(again?.problems).toBeUndefined();
    expect(again?.record.epoch).toBe('e-old');
    expect(again?.events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 901 + i));
    await second.appendEvents(sid, [{ type: 'turn.delta', sessionId: sid, seq: 1001, epoch: 'e-old', time: 1001, turnId: 't1', text: 'new' }] as never, { maxEvents: 100 });
    expect((await fileStore({ dir }).loadSession(sid, { maxEvents: 100 }))?.events.map((e) => e.seq).at(-1)).toBe(1001);
    await second.close();
  });

  it('a crash between writing the tail segment and deleting the old log is harmless: the next load serves the tail, no problem', async () => {
    const dir = await tempDir();
    const sid = 'cut-interrupted';
    const store = fileStore({ dir });
    await store.saveSession({ version: 2, id: sid, epoch: 'e', createdAt: 0 });
    const line = (seq: number) => `${JSON.stringify({ type: 'turn.delta', sessionId: sid, seq, epoch: 'e', time: seq, turnId: 't1', text: `d${seq}` })}\n`;
    const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const events = join(store.sessionDir(sid), 'events');
    await writeFile(join(events, '0000000000000001.jsonl'), seqs(1, 1000).map(line).join(''));
    await writeFile(join(events, '0000000000000901.jsonl'), seqs(901, 1000).map(line).join(''));
    const loaded = await fileStore({ dir }).loadSession(sid, { maxEvents: 100 });
    expect(loaded?.problems).toBeUndefined();
    expect(loaded?.events.map((e) => e.seq)).toEqual(seqs(901, 1000));
    await store.close();
  });
});
