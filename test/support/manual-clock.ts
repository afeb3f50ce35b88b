/** A clock whose time only moves when a test says so: timers due by then fire in time order, each with `now()` at its due time. */
import type { Clock } from '../../src/internal/clock.js';

export interface ManualClock extends Clock {
  /** Move time forward by `ms`, firing every timer that falls due on the way (also ones those timers set). */
  advance(ms: number): void;
}

export function manualClock(): ManualClock {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let ids = 0;
  const clock: ManualClock = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++ids;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (let due = nextDue(end); due; due = nextDue(end)) {
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = end;
    },
  };
  const nextDue = (end: number) => [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
  return clock;
}
