import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/client/backoff.js';
import { CLIENT_DEFAULTS, DEFAULTS, RECONNECT_DEFAULTS, resolveOptions } from '../../src/client/options.js';
import { createClientWith } from '../../src/client/client.js';
import { createClient, memoryCursorStore, localStorageCursorStore } from '../../src/index.js';

describe('options', () => {
  it('internal hooks set to `undefined` keep their defaults', async () => {
    const client = createClientWith({ baseUrl: 'http://h' }, { clock: undefined, random: undefined, createTransport: undefined, stableAfterMs: undefined });
    const session = client.session('s1');
    const sub = session.subscribe({ after: 0 });
    // The default clock and transports are there: connecting works, and closing clears the timers.
    expect(client.state.status).toBe('connecting');
    sub.close();
    await client.close();
    expect(client.state.status).toBe('closed');
  });

  it('fills every default, field by field; `{x: undefined}` never wipes one', () => {
    const o = resolveOptions({
      baseUrl: 'http://h:1/prefix',
      reconnect: { maxDelayMs: 5000, factor: undefined },
      requestTimeoutMs: undefined,
      transports: undefined,
    });
    expect(o.reconnect).toEqual({ ...RECONNECT_DEFAULTS, maxDelayMs: 5000 });
    expect(o.requestTimeoutMs).toBe(CLIENT_DEFAULTS.requestTimeoutMs);
    // The deprecated name stays an alias for one minor version.
    expect(DEFAULTS).toBe(CLIENT_DEFAULTS);
    expect(o.transports).toEqual(['websocket', 'sse', 'poll']);
    expect(o.bufferLimit).toBe(1000);
    expect(o.heartbeatTimeoutMs).toBe(45_000);
    expect(o.openTimeoutMs).toBe(10_000);
    expect(resolveOptions({ baseUrl: 'http://h', heartbeatTimeoutMs: 400, openTimeoutMs: 300 })).toMatchObject({
      heartbeatTimeoutMs: 400,
      openTimeoutMs: 300,
    });
    expect(() => resolveOptions({ baseUrl: 'http://h', heartbeatTimeoutMs: 0 })).toThrow(/heartbeatTimeoutMs/);
    expect(() => resolveOptions({ baseUrl: 'http://h', openTimeoutMs: -1 })).toThrow(/openTimeoutMs/);
    expect(o.baseUrl.href).toBe('http://h:1/prefix/');
    expect(o.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(RECONNECT_DEFAULTS).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 'full', maxAttempts: Infinity });
  });

  it('re-reads headers on every call (object or function)', async () => {
    let n = 0;
    const o = resolveOptions({ baseUrl: 'http://h', headers: () => ({ authorization: `Bearer ${++n}` }) });
    expect(await o.getHeaders()).toEqual({ authorization: 'Bearer 1' });
    expect(await o.getHeaders()).toEqual({ authorization: 'Bearer 2' });
    expect(await resolveOptions({ baseUrl: 'http://h', headers: { a: 'b' } }).getHeaders()).toEqual({ a: 'b' });
  });

  it.each([
    [{}, 'baseUrl'],
    [{ baseUrl: 'not a url' }, 'baseUrl'],
    [{ baseUrl: 'ftp://h' }, 'baseUrl'],
    [{ baseUrl: 'http://h', clientId: '' }, 'clientId'],
    [{ baseUrl: 'http://h', transports: [] }, 'transports'],
    [{ baseUrl: 'http://h', transports: ['websocket', 'carrier-pigeon'] }, 'transports'],
    [{ baseUrl: 'http://h', transports: ['sse', 'sse'] }, 'transports'],
    [{ baseUrl: 'http://h', reconnect: { factor: 0 } }, 'reconnect.factor'],
    [{ baseUrl: 'http://h', reconnect: { initialDelayMs: -1 } }, 'reconnect.initialDelayMs'],
    [{ baseUrl: 'http://h', reconnect: { jitter: 'half' } }, 'reconnect.jitter'],
    [{ baseUrl: 'http://h', reconnect: { maxAttempts: 1.5 } }, 'reconnect.maxAttempts'],
    [{ baseUrl: 'http://h', reconnect: { initialDelayMs: 100, maxDelayMs: 50 } }, 'reconnect.maxDelayMs'],
    [{ baseUrl: 'http://h', requestTimeoutMs: 0 }, 'requestTimeoutMs'],
    [{ baseUrl: 'http://h', requestTimeoutMs: Infinity }, 'requestTimeoutMs'],
    [{ baseUrl: 'http://h', headers: 'x' }, 'headers'],
    [{ baseUrl: 'http://h', cursorStore: {} }, 'cursorStore'],
    [{ baseUrl: 'http://h', bufferLimit: -5 }, 'bufferLimit'],
  ])('rejects %j with a TypeError naming `%s`', (options, field) => {
    expect(() => createClient(options as never)).toThrow(TypeError);
    expect(() => createClient(options as never)).toThrow(`\`${field}\``);
  });
});

describe('backoff (F8)', () => {
  const o = RECONNECT_DEFAULTS;
  it('full jitter: random 0 → 0 ms, random 0.999 → just under the cap', () => {
    expect(backoffDelay(1, o, () => 0)).toBe(0);
    expect(backoffDelay(1, o, () => 0.999)).toBe(499);
    expect(backoffDelay(3, o, () => 0.999)).toBe(Math.floor(0.999 * 2000));
    // Capped at maxDelayMs, however many attempts.
    expect(backoffDelay(50, o, () => 0.999)).toBe(Math.floor(0.999 * 30_000));
    expect(backoffDelay(50, o, () => 0)).toBe(0);
  });

  it('grows by `factor` up to `maxDelayMs`; jitter none is deterministic', () => {
    const none = { ...o, jitter: 'none' as const };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, none))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    for (let n = 1; n < 30; n++) {
      const d = backoffDelay(n, o);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(30_000);
    }
  });
});

describe('cursor stores', () => {
  it('memoryCursorStore round-trips copies', () => {
    const store = memoryCursorStore();
    expect(store.get('k')).toBeUndefined();
    const c = { epoch: 'e', seq: 3 };
    store.set('k', c);
    c.seq = 99;
    expect(store.get('k')).toEqual({ epoch: 'e', seq: 3 });
  });

  it('localStorageCursorStore uses the given storage and ignores garbage', () => {
    const map = new Map<string, string>();
    const storage = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) };
    const store = localStorageCursorStore({ storage, prefix: 'p:' });
    store.set('s1', { epoch: 'e', seq: 7 });
    expect(map.get('p:s1')).toBe('{"epoch":"e","seq":7}');
    expect(store.get('s1')).toEqual({ epoch: 'e', seq: 7 });
    map.set('p:bad', '{not json');
    map.set('p:worse', '{"epoch":1}');
    expect(store.get('bad')).toBeUndefined();
    expect(store.get('worse')).toBeUndefined();
    expect(() => localStorageCursorStore().get('x')).toThrow(/localStorage/);
  });
});
