import { describe, expect, it } from 'vitest';
import { TransportLadder } from '../../src/transport/index.js';
import { FakeClock } from './helpers.js';

function ladder(overrides: Partial<ConstructorParameters<typeof TransportLadder>[0]> = {}) {
  const clock = new FakeClock();
  return {
    clock,
    ladder: new TransportLadder({ transports: ['websocket', 'sse', 'poll'], clock, upgradeAfterMs: 60_000, ...overrides }),
  };
}

describe('TransportLadder (F8)', () => {
  it('starts on the first rung and moves down after failuresBeforeFallback never-opened attempts', () => {
    const { ladder: l } = ladder();
    expect(l.current).toBe('websocket');
    l.report('websocket', { opened: false });
    expect(l.current).toBe('websocket');
    l.report('websocket', { opened: false });
    expect(l.current).toBe('sse');
    l.report('sse', { opened: false });
    l.report('sse', { opened: false });
    expect(l.current).toBe('poll');
  });

  it('an attempt that opened resets the consecutive-failure count', () => {
    const { ladder: l } = ladder({ failuresBeforeFallback: 2 });
    l.report('websocket', { opened: false });
    l.report('websocket', { opened: true });
    l.report('websocket', { opened: false });
    expect(l.current).toBe('websocket');
    l.report('websocket', { opened: false });
    expect(l.current).toBe('sse');
  });

  it('an attempt that opened and dropped never moves the ladder down', () => {
    const { ladder: l } = ladder();
    for (let i = 0; i < 10; i++) l.report('websocket', { opened: true });
    expect(l.current).toBe('websocket');
  });

  it('wraps from the bottom back to the top after failures there too', () => {
    const { ladder: l } = ladder({ failuresBeforeFallback: 1 });
    l.report('websocket', { opened: false });
    l.report('sse', { opened: false });
    expect(l.current).toBe('poll');
    l.report('poll', { opened: false });
    expect(l.current).toBe('websocket');
  });

  it('shouldProbeUpgrade: false on the top rung, true once per upgradeAfterMs on a healthy lower rung', () => {
    const { ladder: l, clock } = ladder({ failuresBeforeFallback: 1 });
    clock.advance(120_000);
    expect(l.shouldProbeUpgrade()).toBe(false); // top rung
    l.report('websocket', { opened: false });
    expect(l.current).toBe('sse');
    clock.advance(59_999);
    expect(l.shouldProbeUpgrade()).toBe(false);
    clock.advance(1);
    expect(l.shouldProbeUpgrade()).toBe(true);
    expect(l.shouldProbeUpgrade()).toBe(false); // once
    l.report('websocket', { opened: false }); // the probe failed: stays, no failure counted on sse
    expect(l.current).toBe('sse');
    clock.advance(60_000);
    expect(l.shouldProbeUpgrade()).toBe(true);
  });

  it('shouldProbeUpgrade is false while the lower rung itself is failing', () => {
    const { ladder: l, clock } = ladder({ failuresBeforeFallback: 2 });
    l.report('websocket', { opened: false });
    l.report('websocket', { opened: false });
    l.report('sse', { opened: false });
    clock.advance(60_000);
    expect(l.shouldProbeUpgrade()).toBe(false);
    l.report('sse', { opened: true });
    expect(l.shouldProbeUpgrade()).toBe(true);
  });

  it('upgraded() moves back up and resets the probe timer', () => {
    const { ladder: l, clock } = ladder({ failuresBeforeFallback: 1 });
    l.report('websocket', { opened: false });
    l.report('sse', { opened: false });
    expect(l.current).toBe('poll');
    clock.advance(60_000);
    expect(l.shouldProbeUpgrade()).toBe(true);
    l.upgraded('websocket');
    expect(l.current).toBe('websocket');
    expect(l.shouldProbeUpgrade()).toBe(false);
    expect(() => l.upgraded('nope' as 'sse')).toThrow(TypeError);
  });

  it('a probe that opened, reported as such, counts as upgraded', () => {
    const { ladder: l } = ladder({ failuresBeforeFallback: 1 });
    l.report('websocket', { opened: false });
    l.report('websocket', { opened: true });
    expect(l.current).toBe('websocket');
  });

  it('a single-rung ladder never probes and stays put', () => {
    const { ladder: l, clock } = ladder({ transports: ['sse'], failuresBeforeFallback: 1 });
    l.report('sse', { opened: false });
    clock.advance(120_000);
    expect(l.current).toBe('sse');
    expect(l.shouldProbeUpgrade()).toBe(false);
  });

  it('rejects invalid options with a TypeError naming the field', () => {
    const clock = new FakeClock();
    expect(() => new TransportLadder({ transports: [], clock })).toThrow(/transports/);
    expect(() => new TransportLadder({ transports: ['sse', 'sse'], clock })).toThrow(/transports/);
    expect(() => new TransportLadder({ transports: ['ftp' as 'sse'], clock })).toThrow(/transports/);
    expect(() => new TransportLadder({ transports: ['sse'], clock, failuresBeforeFallback: 0 })).toThrow(/failuresBeforeFallback/);
    expect(() => new TransportLadder({ transports: ['sse'], clock, upgradeAfterMs: -1 })).toThrow(/upgradeAfterMs/);
    expect(new TransportLadder({ transports: ['sse'], clock, failuresBeforeFallback: undefined }).current).toBe('sse');
  });
});
