import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileCursorStore } from '../../src/node/file-cursor-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-fcs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fileCursorStore (F10)', () => {
  it('dir mode: one file per key, round-trips, survives a new instance', async () => {
    const a = fileCursorStore({ dir });
    expect(await a.get('http://h/#s1')).toBeUndefined();
    await a.set('http://h/#s1', { epoch: 'e', seq: 5 });
    await a.set('http://h/#s2', { epoch: 'e', seq: 9 });
    const b = fileCursorStore({ dir });
    expect(await b.get('http://h/#s1')).toEqual({ epoch: 'e', seq: 5 });
    expect(await b.get('http://h/#s2')).toEqual({ epoch: 'e', seq: 9 });
    const files = await readdir(dir);
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^[\w.-]+$/.test(f))).toBe(true);
  });

  it('concurrent writes are serialized; the newest wins and the file is never torn', async () => {
    const store = fileCursorStore({ dir });
    const writes = Array.from({ length: 50 }, (_, i) => store.set('k', { epoch: 'e', seq: i }));
    // Readers during the burst always see a whole record (or none yet).
    const reads = Array.from({ length: 20 }, () => store.get('k'));
    await Promise.all(writes);
    for (const r of await Promise.all(reads)) if (r !== undefined) expect(r.epoch).toBe('e');
    expect(await store.get('k')).toEqual({ epoch: 'e', seq: 49 });
    await store.flush();
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('path mode keeps every key in one JSON file; garbage is treated as absent', async () => {
    const path = join(dir, 'cursors.json');
    const store = fileCursorStore({ path });
    await store.set('a', { epoch: 'e1', seq: 1 });
    await store.set('b', { epoch: 'e2', seq: 2 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: { epoch: 'e1', seq: 1 }, b: { epoch: 'e2', seq: 2 } });
    expect(await fileCursorStore({ path }).get('b')).toEqual({ epoch: 'e2', seq: 2 });
    await writeFile(path, '{torn');
    expect(await fileCursorStore({ path }).get('a')).toBeUndefined();
  });

  it('rejects bad options with a TypeError', () => {
    expect(() => fileCursorStore({} as never)).toThrow(TypeError);
    expect(() => fileCursorStore({ dir, path: 'x' } as never)).toThrow(TypeError);
  });
});
