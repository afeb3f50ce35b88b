/**
 * A session cursor as persisted: the last `seq` the app has received in
 * history `epoch`. Resuming from it yields exactly the events after it, or a
 * `session.reset` when that history is gone.
 */
export interface StoredCursor {
  epoch: string;
  seq: number;
}

/**
 * Persists cursors so a restarted app resumes where it stopped. Keys are
 * opaque strings chosen by the client (`<baseUrl>#<sessionId>`). Both methods
 * may be sync or async; the client serializes writes per key and only ever
 * writes the newest cursor (older pending writes are skipped).
 *
 * @example
 * const client = createClient({ baseUrl, cursorStore: localStorageCursorStore() });
 */
export interface CursorStore {
  get(key: string): StoredCursor | undefined | Promise<StoredCursor | undefined>;
  set(key: string, cursor: StoredCursor): void | Promise<void>;
}

/** A copy with just the cursor's fields (callers may pass, and mutate, bigger objects). */
const copy = ({ epoch, seq }: StoredCursor): StoredCursor => ({ epoch, seq });

/**
 * Keeps cursors in memory: a process restart forgets them. The default.
 *
 * @example
 * const store = memoryCursorStore();
 */
export function memoryCursorStore(): CursorStore {
  const map = new Map<string, StoredCursor>();
  return {
    get: (key) => {
      const cursor = map.get(key);
      return cursor && copy(cursor);
    },
    set: (key, cursor) => void map.set(key, copy(cursor)),
  };
}

/** Options of `localStorageCursorStore`. */
export interface LocalStorageCursorStoreOptions {
  /** Prefix of every storage key. @default 'agent-tether:cursor:' */
  prefix?: string | undefined;
  /** The storage to use. @default globalThis.localStorage */
  storage?: Pick<Storage, 'getItem' | 'setItem'> | undefined;
}

/** Whether `value` looks like a stored cursor (storage may hold anything). */
export function isStoredCursor(value: unknown): value is StoredCursor {
  // `?.` reads `undefined` from null and undefined; no other primitive has a string `epoch`.
  const v = value as Partial<Record<string, unknown>> | null | undefined;
  return typeof v?.epoch === 'string' && Number.isInteger(v.seq) && (v.seq as number) >= 0;
}

/**
 * Keeps cursors in the browser's `localStorage` (one JSON item per session;
 * `setItem` replaces a value atomically). Unreadable items count as absent, so
 * the stream starts over rather than failing.
 *
 * @example
 * createClient({ baseUrl, cursorStore: localStorageCursorStore({ prefix: 'my-app:' }) });
 */
export function localStorageCursorStore(options: LocalStorageCursorStoreOptions = {}): CursorStore {
  const prefix = options.prefix ?? 'agent-tether:cursor:';
  const storage = () => {
    const s = options.storage ?? (globalThis as { localStorage?: Storage }).localStorage;
    if (!s) throw new TypeError('localStorageCursorStore: no `localStorage` in this runtime');
    return s;
  };
  return {
    get(key) {
      const raw = storage().getItem(prefix + key);
      if (raw === null) return undefined;
      try {
        const value: unknown = JSON.parse(raw);
        return isStoredCursor(value) ? copy(value) : undefined;
      } catch {
        return undefined;
      }
    },
    set(key, cursor) {
      storage().setItem(prefix + key, JSON.stringify(copy(cursor)));
    },
  };
}
