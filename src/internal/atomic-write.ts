import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replace `path` with `data` atomically (F10): write a temp file in the same
 * directory, fsync it, rename it over `path`, then fsync the directory so the
 * rename itself is durable. A concurrent reader sees either the previous
 * complete file or the new complete file, never an empty or torn one; a crash
 * at any point leaves the previous version in place (plus, at worst, a stray
 * temp file named `.<name>.tmp-*`, which {@link isAtomicTempFile} recognises).
 *
 * @example
 * await atomicWriteFile('/var/lib/app/session.json', JSON.stringify(record));
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

/** Whether a file name is a leftover temp file of {@link atomicWriteFile}. */
export function isAtomicTempFile(name: string): boolean {
  return name.startsWith('.') && name.includes('.tmp-');
}

/** fsync a directory so a create, rename or unlink in it survives power loss; best effort where unsupported. */
export async function syncDir(dir: string): Promise<void> {
  // Directory fsync is not supported everywhere (e.g. Windows); the rename is
  // still atomic there, just not guaranteed durable across power loss.
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => {});
  }
}

interface KeyState {
  running: boolean;
  /** The latest data waiting to be written; superseded data is dropped (coalesced). */
  next?: { path: string; data: string | Uint8Array };
  /** Callers waiting for `next` (or a later write) to be durable. */
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/**
 * Serializes atomic writes per key and coalesces superseded ones: while a
 * write for `key` is in flight, later writes wait; if several arrive, only the
 * newest is written and every waiting caller settles with it. So writers never
 * race each other on one file (F10) and a burst of updates costs two writes.
 *
 * @example
 * const writer = new SerializedWriter();
 * await writer.write('s1', '/data/s1.json', JSON.stringify(record));
 * await writer.flush(); // every accepted write is on disk
 */
export class SerializedWriter {
  #keys = new Map<string, KeyState>();
  #write: (path: string, data: string | Uint8Array) => Promise<void>;

  constructor(write: (path: string, data: string | Uint8Array) => Promise<void> = atomicWriteFile) {
    this.#write = write;
  }

  /** Resolves once `data` (or newer data for the same key) is durable; rejects if that write failed. */
  write(key: string, path: string, data: string | Uint8Array): Promise<void> {
    let state = this.#keys.get(key);
    if (!state) {
      state = { running: false, waiters: [] };
      this.#keys.set(key, state);
    }
    state.next = { path, data };
    const promise = new Promise<void>((resolve, reject) => state.waiters.push({ resolve, reject }));
    if (!state.running) void this.#drain(key, state);
    return promise;
  }

  /** Resolves when every write accepted so far has settled. Never rejects. */
  async flush(): Promise<void> {
    const pending = [...this.#keys.values()].map(
      (state) => new Promise<void>((resolve) => state.waiters.push({ resolve, reject: () => resolve() })),
    );
    // A key with no write in flight and nothing queued settles at once.
    for (const [key, state] of this.#keys) if (!state.running && !state.next) this.#settleIdle(key, state);
    await Promise.all(pending);
  }

  #settleIdle(key: string, state: KeyState): void {
    const waiters = state.waiters.splice(0);
    for (const waiter of waiters) waiter.resolve();
    this.#keys.delete(key);
  }

  async #drain(key: string, state: KeyState): Promise<void> {
    state.running = true;
    while (state.next) {
      const { path, data } = state.next;
      state.next = undefined;
      const waiters = state.waiters.splice(0);
      try {
        await this.#write(path, data);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    state.running = false;
    this.#settleIdle(key, state);
  }
}
