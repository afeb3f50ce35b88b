/** PeerLiveness: which heartbeat ends a WebSocket peer, and whether as half-open or as not reading (counted, 1013). */
import { describe, expect, it } from 'vitest';
import { PeerLiveness } from '../../src/server/hosts/peer-liveness.js';

describe('PeerLiveness', () => {
  it('a peer that answers pings or drains its output is never ended', () => {
    const liveness = new PeerLiveness();
    // Between two heartbeats a pong arrives or some output is flushed: `seen()`, even while
    // its output is held back and it keeps sending (a slow reader, F6).
    for (let i = 0; i < 10; i++) {
      liveness.heard();
      expect(liveness.tick(true)).toBe('alive');
      liveness.seen();
    }
  });

  it('two silent heartbeats with nothing held back: a half-open socket', () => {
    const liveness = new PeerLiveness();
    expect(liveness.tick(false)).toBe('alive');
    expect(liveness.tick(false)).toBe('waiting');
    expect(liveness.tick(false)).toBe('half-open');
  });

  it('two silent heartbeats while output is stuck: a peer that stopped reading', () => {
    const liveness = new PeerLiveness();
    liveness.tick(true);
    liveness.tick(true);
    expect(liveness.tick(true)).toBe('not-reading');
  });

  it('output stuck with input still paused below the high-water mark counts as not reading', () => {
    // The host passes `budget.full || inputPaused`: after a flush brought the budget under
    // its high-water mark but not to half of it, input stays paused, nothing is heard and
    // nothing flushes. Judged on `full` alone this was a half-open socket, uncounted, and
    // the ping-flood test failed under load (overflowClosed 0).
    const liveness = new PeerLiveness();
    const full = false;
    const inputPaused = true;
    liveness.tick(full || inputPaused);
    liveness.tick(full || inputPaused);
    expect(liveness.tick(full || inputPaused)).toBe('not-reading');
  });

  it('a peer that keeps sending but never answers is not reading, even with nothing stuck', () => {
    const liveness = new PeerLiveness();
    liveness.tick(false);
    liveness.heard();
    liveness.tick(false);
    liveness.heard();
    expect(liveness.tick(false)).toBe('not-reading');
  });

  it('frames heard before the peer last proved it reads do not count against it', () => {
    const liveness = new PeerLiveness();
    liveness.heard();
    liveness.seen();
    expect(liveness.tick(false)).toBe('alive');
    expect(liveness.tick(false)).toBe('waiting');
    expect(liveness.tick(false)).toBe('half-open');
  });
});
